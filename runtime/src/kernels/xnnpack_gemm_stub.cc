// Built when the runtime is configured without XNNPACK.
#include "kernels/xnnpack_gemm.h"

namespace ple::rt {

bool XnnpackAvailable() { return false; }

std::unique_ptr<XnnpackThreads> CreateXnnpackThreads(size_t) { return nullptr; }

Status CreateXnnpackGemm(size_t, size_t, size_t, size_t, const float*, std::unique_ptr<XnnpackGemm>*, size_t*) {
  return MakeError(PLE_ERROR_UNSUPPORTED, "this build of the runtime has no XNNPACK kernel path");
}

size_t XnnpackGemmBytesBound(size_t, size_t) { return 0; }

}  // namespace ple::rt
