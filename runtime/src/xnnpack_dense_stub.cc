// Built when the runtime is configured without XNNPACK.
#include "xnnpack_dense.h"

namespace ple::rt {

bool XnnpackAvailable() { return false; }

Status CreateXnnpackDenseKernel(const DenseSpec&, std::unique_ptr<DenseKernel>*, size_t*) {
  return MakeError(PLE_ERROR_UNSUPPORTED, "this build of the runtime has no XNNPACK kernel path");
}

size_t XnnpackPackedBytesBound(const DenseSpec&) { return 0; }

}  // namespace ple::rt
