// The converter's in-memory model: what the file will hold, in float32, BatchNorm already
// folded. Importers build it from a config and weights; the writer serialises it.
#ifndef PLE_CONVERTER_MODEL_IR_H_
#define PLE_CONVERTER_MODEL_IR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_config.h"

namespace ple {
namespace convert {

// How weights are stored in the model file (quantize.h decides per layer class).
enum class Precision : uint8_t { kF32, kF16, kI8 };

struct IrDense {
  uint32_t in = 0, out = 0;
  std::vector<float> weight;        // [out, in]
  std::vector<float> bias;          // [out], or empty for none
  fb::Activation activation = fb::Activation::Identity;
  float negative_slope = 0.01f;
  std::vector<float> prelu_slope;   // [1] or [out] for PRelu
  float dice_alpha = 0.0f;          // Dice
  float dice_epsilon = 1e-3f;
  Precision precision = Precision::kF32;
};

struct IrMlp {
  std::vector<IrDense> layers;
  uint32_t out() const { return layers.back().out; }
};

struct IrExpert {
  uint32_t input_stream = 0;
  IrMlp mlp;
};

struct IrGate {
  uint32_t input_stream = 0;
  IrMlp mlp;                        // empty: a single expert with weight 1
  std::vector<uint32_t> experts;
  uint32_t output_stream = 0;
};

struct IrLevel {
  std::vector<IrExpert> experts;
  std::vector<IrGate> gates;
};

struct IrTower {
  uint32_t input_stream = 0;
  IrMlp mlp;
};

struct IrTable {
  TableConfig config;
  std::vector<float> rows;          // [vocabulary, dim]; rounded to float16 when config.f16
  bool int8 = false;                // stored as int8 with a float16 scale per row (quantize.h)
};

struct IrModel {
  std::string name, description, source_framework;
  std::vector<IrTable> tables;
  std::vector<FeatureConfig> features;  // the input row, in order (request-scope first once reordered)
  std::vector<std::string> extras;
  ScoreConfig score;
  std::vector<TaskConfig> tasks;
  std::vector<IrLevel> levels;
  std::vector<IrTower> towers;
  bool narrow_int8_weights = false;  // int8 layers quantized to [-64, 64] (PrecisionPlan::narrow_int8)
  // The int8 first layers' input row in quantization slices, each with its own per-row scale
  // (widths in columns, in row order, summing to row_width(); a split row's request columns
  // whole slices). Empty: the request columns and the others (PrecisionPlan::input_scales).
  std::vector<uint32_t> input_slices;

  size_t parameter_count() const;
  size_t layer_count() const;
  uint32_t row_width() const;
};

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_MODEL_IR_H_
