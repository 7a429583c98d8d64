// Choosing each layer's storage precision, and the quantization arithmetic the converter uses
// (docs/architecture.md, "Quantized execution"): int8 weights are symmetric per output
// channel, int8 embedding rows symmetric per row with a float16 scale.
#ifndef PLE_CONVERTER_QUANTIZE_H_
#define PLE_CONVERTER_QUANTIZE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"

namespace ple {
namespace convert {

// Precision per layer class. Heads are the towers' last layers (one output).
struct PrecisionPlan {
  Precision embeddings = Precision::kF32;
  Precision experts = Precision::kF32;
  Precision gates = Precision::kF32;
  Precision towers = Precision::kF32;
  Precision heads = Precision::kF32;
  // int8 layer weights in [-64, 64] instead of [-127, 127] ("narrow": one bit less, exact with
  // AVX2's vpmaddubsw; docs/quantization.md). Spec item "narrow"; not part of any default.
  bool narrow_int8 = false;
  // How an int8 first layer quantizes its input row (docs/quantization.md, "Input scales"),
  // spec item "inputs=...": kSegments one scale per row for the request columns and one for
  // the others (the default without calibration data); kFeatures one per feature; kAuto slices
  // of features chosen on calibration data (input_slices.h), set in input_slices by the caller.
  enum class InputScales { kSegments, kFeatures, kAuto };
  InputScales input_scales = InputScales::kSegments;
  bool input_scales_given = false;   // the spec said inputs=...
  std::vector<uint32_t> input_slices;  // kAuto: the chosen widths (IrModel::input_slices)

  // The documented default for "int8" (docs/quantization.md) and the all-fp16 and all-f32 plans.
  static PrecisionPlan ForName(const std::string& name);
  // "int8", "f16", "f32", optionally followed by per-class overrides, "narrow" and
  // "inputs=segments|features|auto": "int8,towers=f16,gates=int8,narrow,inputs=features".
  // Throws ConvertError naming what is wrong.
  static PrecisionPlan Parse(const std::string& spec);
  // The canonical spec: "embeddings=int8,experts=int8,gates=f32,towers=int8,heads=f32[,narrow]
  // [,inputs=features|auto]".
  std::string ToString() const;
  bool quantized() const;
};

// "f32", "f16", "int8"; throws ConvertError otherwise.
Precision ParsePrecision(const std::string& name);
const char* PrecisionName(Precision precision);

// Sets every layer's and table's precision, and the input slices (kFeatures: one per feature;
// kAuto: plan.input_slices, which must have been chosen).
void AssignPrecisions(const PrecisionPlan& plan, IrModel* model);

// A table stored in float16 (its rows rounded, once) or int8 (symmetric per row); kF32 keeps it.
// Throws ConvertError when a value does not fit in float16.
void SetTablePrecision(Precision precision, IrTable* table);

// Symmetric int8 of one output channel: scale = max|w| / limit (1 when all zero),
// q = clamp(round(w / scale), -limit, limit); limit 127, or kNarrowInt8Limit (64) for narrow.
struct ChannelQuantization {
  float scale = 1.0f;
  std::vector<int8_t> values;
};
ChannelQuantization QuantizeChannel(const float* weights, size_t count, int limit = 127);

// An embedding row as int8 with a float16 scale (returned as float, exactly representable in
// float16, and its bits).
struct RowQuantization {
  float scale = 0.0f;
  uint16_t scale_bits = 0;
  std::vector<int8_t> values;
};
RowQuantization QuantizeRow(const float* values, size_t count);

// Float16 rounding (to nearest even) and bits, shared with the float16 tables.
float RoundToHalf(float value);
uint16_t HalfBits(float value);  // of a value already representable in float16

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_QUANTIZE_H_
