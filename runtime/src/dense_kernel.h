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

// What one kernel computes: columns [col_begin, col_end) of `layer` (all of them for an
// ordinary layer; the request or candidate block of a first layer whose input is split), with
// or without the bias and the activation. `layer` must outlive the kernel. Strides in floats;
// x holds col_end - col_begin values per row.
struct DenseSpec {
  const DenseLayer* layer = nullptr;
  uint32_t col_begin = 0;
  uint32_t col_end = 0;
  bool with_bias = true;
  bool with_activation = true;
  size_t x_stride = 0;
  size_t y_stride = 0;

  static DenseSpec Whole(const DenseLayer& layer, size_t x_stride, size_t y_stride) {
    return DenseSpec{&layer, 0, layer.in, true, true, x_stride, y_stride};
  }
  uint32_t columns() const { return col_end - col_begin; }
};

// `packed_bytes` receives the bytes the path allocated for its own weight copy (0 for the
// reference path).
Status CreateDenseKernel(ple_kernel_path path, const DenseSpec& spec, std::unique_ptr<DenseKernel>* out,
                         size_t* packed_bytes);

// Upper bound of CreateDenseKernel's packed_bytes, known before creating it.
size_t PackedWeightBytesBound(ple_kernel_path path, const DenseSpec& spec);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_DENSE_KERNEL_H_
