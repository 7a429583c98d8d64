#include "load/structure_verifier.h"

#include "ple_model_generated.h"

namespace ple::rt {

bool VerifyModelStructure(const uint8_t* data, size_t size) {
  flatbuffers::Verifier verifier(data, size, /*max_depth=*/64, /*max_tables=*/4000000);
  return fb::VerifyModelBuffer(verifier);
}

}  // namespace ple::rt
