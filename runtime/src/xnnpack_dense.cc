#include <xnnpack.h>

#include <algorithm>
#include <cstdlib>
#include <vector>
#include <limits>
#include <mutex>

#include "kernels/kernels.h"
#include "xnnpack_dense.h"

namespace ple::rt {
namespace {

// XNNPACK allocates through these, so the bytes an operator packs can be counted: a session
// points g_allocation_counter at its counter while it creates operators. If the host process
// initialised XNNPACK before us with its own allocator, XNNPACK keeps that one and the count
// stays 0 (documented in docs/architecture.md).
thread_local size_t* g_allocation_counter = nullptr;

void Count(size_t size) {
  if (g_allocation_counter != nullptr) *g_allocation_counter += size;
}
void* Allocate(void*, size_t size) {
  Count(size);
  return std::malloc(size);
}
void* Reallocate(void*, void* pointer, size_t size) {
  Count(size);
  return std::realloc(pointer, size);
}
void Deallocate(void*, void* pointer) { std::free(pointer); }
void* AlignedAllocate(void*, size_t alignment, size_t size) {
  Count(size);
  void* pointer = nullptr;
  return posix_memalign(&pointer, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) == 0 ? pointer
                                                                                                       : nullptr;
}
void AlignedDeallocate(void*, void* pointer) { std::free(pointer); }

const xnn_allocator kCountingAllocator = {nullptr, Allocate, Reallocate, Deallocate, AlignedAllocate,
                                          AlignedDeallocate};

class XnnpackDenseKernel final : public DenseKernel {
 public:
  XnnpackDenseKernel(const DenseSpec& spec, xnn_operator_t op) : spec_(spec), op_(op) {}
  ~XnnpackDenseKernel() override { xnn_delete_operator(op_); }

  bool Run(size_t rows, const float* x, float* y) override {
    // Setup records pointers and the tiling for `rows`; it does not allocate.
    if (xnn_setup_fully_connected_nc_f32(op_, rows, x, y, /*threadpool=*/nullptr) != xnn_status_success ||
        xnn_run_operator(op_, /*threadpool=*/nullptr) != xnn_status_success) {
      return false;
    }
    if (spec_.with_activation && spec_.layer->activation != Activation::kRelu) {  // ReLU is fused as a clamp
      kernels::f32_activation__scalar(*spec_.layer, rows, spec_.layer->out, y, spec_.y_stride);
    }
    return true;
  }

 private:
  DenseSpec spec_;
  xnn_operator_t op_;
};

}  // namespace

bool XnnpackAvailable() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] { available = xnn_initialize(&kCountingAllocator) == xnn_status_success; });
  return available;
}

Status CreateXnnpackDenseKernel(const DenseSpec& spec, std::unique_ptr<DenseKernel>* out, size_t* packed_bytes) {
  if (!XnnpackAvailable()) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "XNNPACK is not available on this CPU");
  }
  const DenseLayer& layer = *spec.layer;
  const bool fuse_relu = spec.with_activation && layer.activation == Activation::kRelu;
  const float output_min = fuse_relu ? 0.0f : -std::numeric_limits<float>::infinity();
  const float output_max = std::numeric_limits<float>::infinity();
  // XNNPACK wants a contiguous [out, columns] kernel: a block of columns is copied for the
  // moment it takes to pack it.
  std::vector<float> block;
  const float* kernel = layer.weight;
  if (spec.columns() != layer.in) {
    block.resize(size_t{layer.out} * spec.columns());
    for (uint32_t o = 0; o < layer.out; ++o) {
      std::copy(layer.weight + size_t{o} * layer.in + spec.col_begin, layer.weight + size_t{o} * layer.in + spec.col_end,
                block.begin() + size_t{o} * spec.columns());
    }
    kernel = block.data();
  }
  size_t counted = 0;
  g_allocation_counter = &counted;
  xnn_operator_t op = nullptr;
  const xnn_status status = xnn_create_fully_connected_nc_f32(
      spec.columns(), layer.out, spec.x_stride, spec.y_stride, kernel, spec.with_bias ? layer.bias : nullptr,
      output_min, output_max, /*flags=*/0, &op);
  g_allocation_counter = nullptr;
  if (status != xnn_status_success) {
    return MakeError(status == xnn_status_out_of_memory ? PLE_ERROR_OUT_OF_MEMORY : PLE_ERROR_INTERNAL,
                     "XNNPACK could not create a fully connected operator [%u -> %u] (xnn_status %d)", spec.columns(),
                     layer.out, static_cast<int>(status));
  }
  out->reset(new XnnpackDenseKernel(spec, op));
  *packed_bytes = counted;
  return Status::Ok();
}

size_t XnnpackPackedBytesBound(const DenseSpec& spec) {
  // Packed f32 GEMM weights: output channels rounded up to the widest tile (nr <= 16 on the
  // x86 and ARM kernels of this XNNPACK), input channels rounded up to 4 (kr * sr <= 4),
  // plus one bias per output channel, plus the operator object itself.
  constexpr size_t kMaxNr = 16, kMaxKr = 4, kOperatorBytes = 4096, kAlignBytes = 64;
  const size_t n = (spec.layer->out + kMaxNr - 1) / kMaxNr * kMaxNr;
  const size_t k = (spec.columns() + kMaxKr - 1) / kMaxKr * kMaxKr;
  return n * (k + 1) * sizeof(float) + kAlignBytes + kOperatorBytes;
}

}  // namespace ple::rt
