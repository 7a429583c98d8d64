// XNNPACK as the float32 GEMM of the "xnnpack" kernel path (built when PLE_XNNPACK is on;
// xnnpack_gemm_stub.cc otherwise). XNNPACK packs its own copy of the weights when the operator
// is created: that copy belongs to the operator, so to the session.
#ifndef PLE_RUNTIME_KERNELS_XNNPACK_GEMM_H_
#define PLE_RUNTIME_KERNELS_XNNPACK_GEMM_H_

#include <cstddef>
#include <memory>

#include "status.h"

namespace ple::rt {

// Initialises XNNPACK once per process; false when not built or the CPU is unsupported.
bool XnnpackAvailable();

// XNNPACK's own worker threads (a pthreadpool), for the XNNPACK path of a session with several
// threads: XNNPACK splits each product's output tiles across them, every output computed by
// one microkernel call in the same order whatever the thread count.
class XnnpackThreads {
 public:
  virtual ~XnnpackThreads() = default;
};

// `threads` >= 2; null when XNNPACK is not built or the pool cannot be created.
std::unique_ptr<XnnpackThreads> CreateXnnpackThreads(size_t threads);

// c[r][n] = sum_k a[r][k] * w[n][k] for r < rows: no bias, no activation.
class XnnpackGemm {
 public:
  virtual ~XnnpackGemm() = default;
  // 1 <= rows <= the session's tile; allocates nothing. False if XNNPACK reports a failure.
  // `threads` may be null (the calling thread only).
  virtual bool Run(size_t rows, const float* a, float* c, XnnpackThreads* threads) = 0;
};

// `weights` is row-major [n][k] and is only read during the call. Strides in floats.
// `packed_bytes` receives what XNNPACK allocated.
Status CreateXnnpackGemm(size_t k, size_t n, size_t a_stride, size_t c_stride, const float* weights,
                         std::unique_ptr<XnnpackGemm>* out, size_t* packed_bytes);

// Upper bound of CreateXnnpackGemm's packed_bytes, known before creating it.
size_t XnnpackGemmBytesBound(size_t k, size_t n);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_XNNPACK_GEMM_H_
