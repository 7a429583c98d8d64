// Importers for training frameworks' own model descriptions (docs/importing.md): each turns
// the framework's constructor arguments and feature definitions into a native ModelConfig, and
// its state_dict names into a WeightNaming, so the native importer reads the weights unchanged.
#ifndef PLE_CONVERTER_FRAMEWORK_IMPORTERS_H_
#define PLE_CONVERTER_FRAMEWORK_IMPORTERS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "model_config.h"
#include "native_importer.h"

namespace ple {
namespace convert {

struct FrameworkModel {
  ModelConfig config;
  WeightNaming naming;
};

// torch-rechub's multi_task.PLE and MMOE (current version). Throws ConvertError.
FrameworkModel ImportTorchRechub(const nlohmann::json& description);

// DeepCTR-Torch's models.PLE and MMOE. Throws ConvertError.
FrameworkModel ImportDeepCtrTorch(const nlohmann::json& description);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_FRAMEWORK_IMPORTERS_H_
