#include "dense_kernel.h"

#include "kernels/kernels.h"
#include "xnnpack_dense.h"

namespace ple::rt {
namespace {

class ReferenceDenseKernel final : public DenseKernel {
 public:
  explicit ReferenceDenseKernel(const DenseSpec& spec) : spec_(spec) {}

  bool Run(size_t rows, const float* x, float* y) override {
    const DenseLayer& layer = *spec_.layer;
    kernels::f32_dense__scalar(rows, spec_.columns(), layer.out, x, spec_.x_stride, layer.weight + spec_.col_begin,
                               layer.in, spec_.with_bias ? layer.bias : nullptr, y, spec_.y_stride);
    if (spec_.with_activation) kernels::f32_activation__scalar(layer, rows, layer.out, y, spec_.y_stride);
    return true;
  }

 private:
  DenseSpec spec_;
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

Status CreateDenseKernel(ple_kernel_path path, const DenseSpec& spec, std::unique_ptr<DenseKernel>* out,
                         size_t* packed_bytes) {
  *packed_bytes = 0;
  switch (path) {
    case PLE_KERNELS_REFERENCE:
      out->reset(new ReferenceDenseKernel(spec));
      return Status::Ok();
    case PLE_KERNELS_XNNPACK:
      return CreateXnnpackDenseKernel(spec, out, packed_bytes);
    default:
      return MakeError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", static_cast<int>(path));
  }
}

size_t PackedWeightBytesBound(ple_kernel_path path, const DenseSpec& spec) {
  return path == PLE_KERNELS_XNNPACK ? XnnpackPackedBytesBound(spec) : 0;
}

}  // namespace ple::rt
