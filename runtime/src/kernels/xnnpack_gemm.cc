#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cstdlib>
#include <vector>
#include <limits>
#include <mutex>

#include "kernels/xnnpack_gemm.h"

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

class Pthreadpool final : public XnnpackThreads {
 public:
  explicit Pthreadpool(pthreadpool_t pool) : pool(pool) {}
  ~Pthreadpool() override { pthreadpool_destroy(pool); }
  const pthreadpool_t pool;
};

class XnnpackGemmOperator final : public XnnpackGemm {
 public:
  explicit XnnpackGemmOperator(xnn_operator_t op) : op_(op) {}
  ~XnnpackGemmOperator() override { xnn_delete_operator(op_); }

  bool Run(size_t rows, const float* a, float* c, XnnpackThreads* threads) override {
    pthreadpool_t pool = threads != nullptr ? static_cast<Pthreadpool*>(threads)->pool : nullptr;
    // Setup records pointers and the tiling for `rows`; it does not allocate.
    return xnn_setup_fully_connected_nc_f32(op_, rows, a, c, pool) == xnn_status_success &&
           xnn_run_operator(op_, pool) == xnn_status_success;
  }

 private:
  xnn_operator_t op_;
};

}  // namespace

bool XnnpackAvailable() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] { available = xnn_initialize(&kCountingAllocator) == xnn_status_success; });
  return available;
}

std::unique_ptr<XnnpackThreads> CreateXnnpackThreads(size_t threads) {
  pthreadpool_t pool = pthreadpool_create(threads);
  if (pool == nullptr) return nullptr;
  return std::unique_ptr<XnnpackThreads>(new Pthreadpool(pool));
}

Status CreateXnnpackGemm(size_t k, size_t n, size_t a_stride, size_t c_stride, const float* weights,
                         std::unique_ptr<XnnpackGemm>* out, size_t* packed_bytes) {
  *packed_bytes = 0;
  if (!XnnpackAvailable()) return MakeError(PLE_ERROR_UNSUPPORTED, "XNNPACK is not available on this CPU");
  size_t counted = 0;
  g_allocation_counter = &counted;
  xnn_operator_t op = nullptr;
  const xnn_status status = xnn_create_fully_connected_nc_f32(
      k, n, a_stride, c_stride, weights, /*bias=*/nullptr, -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::infinity(), /*flags=*/0, &op);
  g_allocation_counter = nullptr;
  if (status != xnn_status_success) {
    return MakeError(status == xnn_status_out_of_memory ? PLE_ERROR_OUT_OF_MEMORY : PLE_ERROR_INTERNAL,
                     "XNNPACK could not create a fully connected operator [%zu -> %zu] (xnn_status %d)", k, n,
                     static_cast<int>(status));
  }
  out->reset(new XnnpackGemmOperator(op));
  *packed_bytes = counted;
  return Status::Ok();
}

size_t XnnpackGemmBytesBound(size_t k, size_t n) {
  // Packed f32 GEMM weights: output channels rounded up to the widest tile (nr <= 16 on the
  // x86 and ARM kernels of this XNNPACK), input channels rounded up to 4 (kr * sr <= 4),
  // plus one bias per output channel, plus the operator object itself.
  constexpr size_t kMaxNr = 16, kMaxKr = 4, kOperatorBytes = 4096, kAlignBytes = 64;
  const size_t padded_n = (n + kMaxNr - 1) / kMaxNr * kMaxNr;
  const size_t padded_k = (k + kMaxKr - 1) / kMaxKr * kMaxKr;
  return padded_n * (padded_k + 1) * sizeof(float) + kAlignBytes + kOperatorBytes;
}

}  // namespace ple::rt
