// Builds the IR from a config and weights in the native naming (docs/config-format.md).
#ifndef PLE_CONVERTER_NATIVE_IMPORTER_H_
#define PLE_CONVERTER_NATIVE_IMPORTER_H_

#include <functional>
#include <string>

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

// How a weights file's tensor names and layouts map to the native naming. Framework importers
// (framework_importers.h) fill it; the default is the native naming itself.
struct WeightNaming {
  // The file's name for a native tensor name.
  std::function<std::string(const std::string& native_name)> file_name;
  // File tensors the framework writes that the model does not use (e.g. DeepCTR-Torch's unused
  // shared experts); they are accepted and dropped.
  std::function<bool(const std::string& file_name)> ignorable;
  // 2-d Linear kernels are stored [in, out] (TensorFlow/Keras, Paddle) and are transposed.
  bool transpose_linear = false;
};

struct ImportOptions {
  Mutation mutation = Mutation::kNone;
  WeightNaming naming;  // empty functions: the native naming
};

// Throws ConvertError naming the first missing, misshaped, non-finite or (after all others)
// every extra tensor. The result's features are reordered request-scope first (the first
// layers' weight columns permuted to match), so the runtime can compute the request part once.
IrModel ImportNative(const ModelConfig& config, const SafeTensorsFile& weights, const ImportOptions& options = {});

// Moves request-scope features before candidate-scope ones (stable) and permutes the input
// columns of the layers reading the input row to match: the same function of the same values,
// with the request part contiguous (the ONNX import calls it too).
void ReorderRequestFirst(IrModel* model);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_NATIVE_IMPORTER_H_
