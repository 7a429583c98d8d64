// What the framework importers (torch_rechub_importer.cc, deepctr_torch_importer.cc) share: the
// start of every description, activation names, and the native tensor names taken apart so
// each importer can say what its framework calls them.
#ifndef PLE_CONVERTER_FRAMEWORK_COMMON_H_
#define PLE_CONVERTER_FRAMEWORK_COMMON_H_

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json_reader.h"
#include "model_config.h"

namespace ple {
namespace convert {

// Checks "framework" (must be `framework`, the --from option) and "model" ("PLE" or "MMOE"),
// and names the config after them; true for PLE, false for MMOE.
bool StartFrameworkModel(const JsonReader& in, const nlohmann::json& root, const char* framework,
                         ModelConfig* config);

// "scope": "request" or "candidate" (the default).
fb::Scope ReadScope(const JsonReader& in, const nlohmann::json& feature, const std::string& where);

// A framework's activation name (any case): relu, sigmoid, prelu, leakyrelu (slope 0.01),
// linear, and dice where `dice_supported`.
ActivationConfig MapActivation(const JsonReader& in, const std::string& name, const std::string& where,
                               bool dice_supported);

// ---- the native tensor names (docs/config-format.md), taken apart ----

enum class Owner { kEmbedding, kSpecificExpert, kSharedExpert, kTaskGate, kSharedGate, kTower };
enum class Part { kLayer, kLogits, kHead, kOutputBias, kTable };

struct NativeName {
  Owner owner = Owner::kEmbedding;
  Part part = Part::kLayer;
  std::string table;
  uint32_t level = 0, task = 0, index = 0, layer = 0;
  std::string module;  // linear, bn, prelu, dice
  std::string param;   // weight, bias, running_mean, ...
};

// A name the native importer asks for; other names are not passed here.
NativeName ParseNativeName(const std::string& name);

// "a.b.c" from {"a", "b", "c"}, and back.
std::string JoinName(std::initializer_list<std::string> parts);
std::vector<std::string> SplitName(const std::string& name);
// A decimal name component ("3"); 0 for anything else.
uint32_t NameNumber(const std::string& text);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_FRAMEWORK_COMMON_H_
