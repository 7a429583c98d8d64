// A dense layer bound to one kernel path, created in Prepare and run per tile.
// The reference path computes with kernels::f32_dense__scalar; the XNNPACK path hands the
// layer to an XNNPACK fully connected operator, which packs its own copy of the weights at
// creation (owned by the kernel object, so by the session).
#ifndef PLE_RUNTIME_DENSE_KERNEL_H_
#define PLE_RUNTIME_DENSE_KERNEL_H_

#include <cstddef>
#include <memory>

#include "model.h"
#include "ple/ple.h"
#include "status.h"

namespace ple::rt {

class DenseKernel {
 public:
  virtual ~DenseKernel() = default;
  // y = activation(W x + b) for `rows` rows, 1 <= rows <= the session's tile. No allocation.
  // False only if the underlying library reports a failure.
  virtual bool Run(size_t rows, const float* x, float* y) = 0;
};

// True when `path` is compiled in and works on this CPU (never called with AUTO).
bool KernelPathAvailable(ple_kernel_path path);

// AUTO resolves to the fastest available path.
ple_kernel_path ResolveKernelPath(ple_kernel_path requested);

// `layer` must outlive the kernel. Strides in floats. `packed_bytes` receives the bytes the
// path allocated for its own weight copy (0 for the reference path).
Status CreateDenseKernel(ple_kernel_path path, const DenseLayer& layer, size_t x_stride, size_t y_stride,
                         std::unique_ptr<DenseKernel>* out, size_t* packed_bytes);

// Upper bound of CreateDenseKernel's packed_bytes for `layer`, known before creating it.
size_t PackedWeightBytesBound(ple_kernel_path path, const DenseLayer& layer);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_DENSE_KERNEL_H_
