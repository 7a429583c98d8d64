// Builds the IR from a config and weights in the native naming (docs/config-format.md).
#ifndef PLE_CONVERTER_NATIVE_IMPORTER_H_
#define PLE_CONVERTER_NATIVE_IMPORTER_H_

#include "model_config.h"
#include "model_ir.h"
#include "safetensors.h"

namespace ple {
namespace convert {

// Deliberate bugs, for the mutation test only (tests/mutation_test.cc): each reproduces a
// mistake an implementation could make, so the test can prove the conformance bundles catch
// it. Never reachable from the command-line tools.
enum class Mutation {
  kNone,
  kDropBatchNorm,          // ignore every BatchNorm
  kBatchNormEps1e3,        // fold BatchNorm with eps 1e-3 instead of the config's
  kSwapExpertOrder,        // gates weigh [shared..., specific...] instead of [specific..., shared...]
  kDropGateBias,           // ignore the gate logits' Linear bias
  kUseLastLevelSharedGate, // towers read a last-level shared gate's output (needs its weights)
};

struct ImportOptions {
  Mutation mutation = Mutation::kNone;
};

// Throws ConvertError naming the first missing, misshaped, non-finite or (after all others)
// every extra tensor.
IrModel ImportNative(const ModelConfig& config, const SafeTensorsFile& weights, const ImportOptions& options = {});

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_NATIVE_IMPORTER_H_
