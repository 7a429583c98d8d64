#include "dense_kernel.h"

#include "kernels/kernels.h"
#include "xnnpack_dense.h"

namespace ple::rt {
namespace {

class ReferenceDenseKernel final : public DenseKernel {
 public:
  ReferenceDenseKernel(const DenseLayer& layer, size_t x_stride, size_t y_stride)
      : layer_(layer), x_stride_(x_stride), y_stride_(y_stride) {}

  bool Run(size_t rows, const float* x, float* y) override {
    kernels::f32_dense__scalar(rows, layer_.in, layer_.out, x, x_stride_, layer_.weight, layer_.bias, y, y_stride_);
    kernels::f32_activation__scalar(layer_, rows, layer_.out, y, y_stride_);
    return true;
  }

 private:
  const DenseLayer& layer_;
  size_t x_stride_;
  size_t y_stride_;
};

}  // namespace

bool KernelPathAvailable(ple_kernel_path path) {
  switch (path) {
    case PLE_KERNELS_REFERENCE: return true;
    case PLE_KERNELS_XNNPACK: return XnnpackAvailable();
    default: return false;
  }
}

ple_kernel_path ResolveKernelPath(ple_kernel_path requested) {
  if (requested != PLE_KERNELS_AUTO) return requested;
  return XnnpackAvailable() ? PLE_KERNELS_XNNPACK : PLE_KERNELS_REFERENCE;
}

Status CreateDenseKernel(ple_kernel_path path, const DenseLayer& layer, size_t x_stride, size_t y_stride,
                         std::unique_ptr<DenseKernel>* out, size_t* packed_bytes) {
  *packed_bytes = 0;
  switch (path) {
    case PLE_KERNELS_REFERENCE:
      out->reset(new ReferenceDenseKernel(layer, x_stride, y_stride));
      return Status::Ok();
    case PLE_KERNELS_XNNPACK:
      return CreateXnnpackDenseKernel(layer, x_stride, y_stride, out, packed_bytes);
    default:
      return MakeError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", static_cast<int>(path));
  }
}

size_t PackedWeightBytesBound(ple_kernel_path path, const DenseLayer& layer) {
  return path == PLE_KERNELS_XNNPACK ? XnnpackPackedBytesBound(layer) : 0;
}

}  // namespace ple::rt
