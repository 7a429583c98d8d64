#include "quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "convert_error.h"

namespace ple {
namespace convert {

PrecisionPlan PrecisionPlan::ForName(const std::string& name) {
  PrecisionPlan plan;
  if (name == "f32") return plan;
  if (name == "f16") {
    plan.embeddings = plan.experts = plan.gates = plan.towers = plan.heads = Precision::kF16;
    return plan;
  }
  if (name == "int8") {
    // The default mix, measured in docs/quantization.md: int8 wherever the multiply-adds
    // (experts, gates, towers) and the bytes (embeddings) are; the gates stay int8 so a level's
    // experts and gates remain one GEMM. The heads, one output per task whose error moves the
    // probability directly, are float16: within float rounding of float32 at half its size.
    plan.embeddings = plan.experts = plan.gates = plan.towers = Precision::kI8;
    plan.heads = Precision::kF16;
    return plan;
  }
  throw ConvertError("unknown precision '" + name + "' (f32, f16 or int8)");
}

PrecisionPlan PrecisionPlan::Parse(const std::string& spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = spec.find(',', start);
    parts.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  PrecisionPlan plan;
  size_t first_override = 0;
  if (!parts.empty() && parts[0].find('=') == std::string::npos) {
    plan = ForName(parts[0]);
    first_override = 1;
  }
  for (size_t i = first_override; i < parts.size(); ++i) {
    if (parts[i] == "narrow") {
      plan.narrow_int8 = true;
      continue;
    }
    if (parts[i].rfind("inputs=", 0) == 0) {
      const std::string mode = parts[i].substr(7);
      if (mode == "segments") plan.input_scales = InputScales::kSegments;
      else if (mode == "features") plan.input_scales = InputScales::kFeatures;
      else if (mode == "auto") plan.input_scales = InputScales::kAuto;
      else throw ConvertError("precision '" + spec + "': inputs=" + mode + " (segments, features or auto)");
      plan.input_scales_given = true;
      continue;
    }
    const size_t equals = parts[i].find('=');
    if (equals == std::string::npos) {
      throw ConvertError("precision '" + spec + "': '" + parts[i] + "' is not CLASS=PRECISION or narrow (only the first item may be a plain precision)");
    }
    const std::string name = parts[i].substr(0, equals);
    const Precision precision = ParsePrecision(parts[i].substr(equals + 1));
    if (name == "embeddings") plan.embeddings = precision;
    else if (name == "experts") plan.experts = precision;
    else if (name == "gates") plan.gates = precision;
    else if (name == "towers") plan.towers = precision;
    else if (name == "heads") plan.heads = precision;
    else throw ConvertError("precision '" + spec + "': unknown layer class '" + name + "' (embeddings, experts, gates, towers, heads)");
  }
  const bool int8_layers = plan.experts == Precision::kI8 || plan.gates == Precision::kI8 ||
                           plan.towers == Precision::kI8 || plan.heads == Precision::kI8;
  if (plan.narrow_int8 && !int8_layers) {
    throw ConvertError("precision '" + spec + "': 'narrow' applies to int8 layers, and no layer class is int8");
  }
  if (plan.input_scales != InputScales::kSegments && plan.experts != Precision::kI8 && plan.gates != Precision::kI8) {
    throw ConvertError("precision '" + spec + "': 'inputs=' applies to int8 first layers (experts or gates int8)");
  }
  return plan;
}

std::string PrecisionPlan::ToString() const {
  return std::string("embeddings=") + PrecisionName(embeddings) + ",experts=" + PrecisionName(experts) +
         ",gates=" + PrecisionName(gates) + ",towers=" + PrecisionName(towers) + ",heads=" + PrecisionName(heads) +
         (narrow_int8 ? ",narrow" : "") +
         (input_scales == InputScales::kFeatures ? ",inputs=features"
          : input_scales == InputScales::kAuto   ? ",inputs=auto"
                                                 : "");
}

bool PrecisionPlan::quantized() const {
  return embeddings != Precision::kF32 || experts != Precision::kF32 || gates != Precision::kF32 ||
         towers != Precision::kF32 || heads != Precision::kF32;
}

Precision ParsePrecision(const std::string& name) {
  if (name == "f32") return Precision::kF32;
  if (name == "f16") return Precision::kF16;
  if (name == "int8") return Precision::kI8;
  throw ConvertError("unknown precision '" + name + "' (f32, f16 or int8)");
}

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kF32: return "f32";
    case Precision::kF16: return "f16";
    case Precision::kI8: return "int8";
  }
  return "?";
}

void AssignPrecisions(const PrecisionPlan& plan, IrModel* model) {
  model->narrow_int8_weights = plan.narrow_int8;
  model->input_slices.clear();
  switch (plan.input_scales) {
    case PrecisionPlan::InputScales::kSegments: break;
    case PrecisionPlan::InputScales::kFeatures:
      for (const FeatureConfig& f : model->features) model->input_slices.push_back(f.width);
      break;
    case PrecisionPlan::InputScales::kAuto:
      if (plan.input_slices.empty()) {
        throw ConvertError("inputs=auto chooses the input slices on calibration data: give --calibration-data");
      }
      model->input_slices = plan.input_slices;
      break;
  }
  auto set = [](IrMlp& mlp, Precision precision) {
    for (IrDense& layer : mlp.layers) layer.precision = precision;
  };
  for (IrLevel& level : model->levels) {
    for (IrExpert& expert : level.experts) set(expert.mlp, plan.experts);
    for (IrGate& gate : level.gates) set(gate.mlp, plan.gates);
  }
  for (IrTower& tower : model->towers) {
    set(tower.mlp, plan.towers);
    tower.mlp.layers.back().precision = plan.heads;
  }
  for (IrTable& table : model->tables) SetTablePrecision(plan.embeddings, &table);
}

void SetTablePrecision(Precision precision, IrTable* table) {
  switch (precision) {
    case Precision::kF32: break;
    case Precision::kF16:
      if (!table->config.f16) {
        table->config.f16 = true;
        for (float& v : table->rows) {
          v = RoundToHalf(v);
          if (!std::isfinite(v)) {
            throw ConvertError("table '" + table->config.name + "': a value does not fit in float16");
          }
        }
      }
      break;
    case Precision::kI8:  // from the table's values (already float16-rounded when declared f16)
      table->int8 = true;
      break;
  }
}

ChannelQuantization QuantizeChannel(const float* weights, size_t count, int limit) {
  double max_abs = 0.0;
  for (size_t i = 0; i < count; ++i) max_abs = std::max(max_abs, std::fabs(static_cast<double>(weights[i])));
  ChannelQuantization q;
  q.values.assign(count, 0);
  // The runtime refuses a scale that is not a normal float (docs/hardening.md): a column of
  // zeros, or whose largest weight is below limit x 1.2e-38, is written as zeros with scale 1.
  const double bound = limit;
  const float scale = static_cast<float>(max_abs / bound);
  q.scale = 1.0f;
  if (!(scale >= std::numeric_limits<float>::min())) return q;
  q.scale = scale;
  for (size_t i = 0; i < count; ++i) {
    const double v = std::round(static_cast<double>(weights[i]) / q.scale);
    q.values[i] = static_cast<int8_t>(std::clamp(v, -bound, bound));
  }
  return q;
}

RowQuantization QuantizeRow(const float* values, size_t count) {
  double max_abs = 0.0;
  for (size_t i = 0; i < count; ++i) max_abs = std::max(max_abs, std::fabs(static_cast<double>(values[i])));
  RowQuantization q;
  q.values.assign(count, 0);
  if (max_abs == 0.0) return q;  // scale 0: the row reads as zeros
  // The float16 scale is what the runtime multiplies by: quantize against it, not the exact one.
  q.scale = RoundToHalf(static_cast<float>(max_abs / 127.0));
  if (q.scale == 0.0f) q.scale = 5.9604645e-08f;  // the smallest float16: values below it round to 0
  q.scale_bits = HalfBits(q.scale);
  for (size_t i = 0; i < count; ++i) {
    const double v = std::round(static_cast<double>(values[i]) / q.scale);
    q.values[i] = static_cast<int8_t>(std::clamp(v, -127.0, 127.0));
  }
  return q;
}

float RoundToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = bits & 0x80000000u;
  const float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f) return sign ? -INFINITY : INFINITY;
  if (magnitude < 6.103515625e-05f) {  // subnormal half: a multiple of 2^-24
    const float scaled = std::nearbyint(magnitude * 16777216.0f);  // default rounding: to even
    const float rounded = scaled / 16777216.0f;
    return sign ? -rounded : rounded;
  }
  // Normal half: keep 10 mantissa bits of the float's 23, rounding to nearest even.
  uint32_t m = bits & 0x7fffffffu;
  const uint32_t lsb = (m >> 13) & 1u;
  m += 0x0fffu + lsb;
  m &= ~0x1fffu;
  m |= sign;
  float out;
  std::memcpy(&out, &m, 4);
  if (std::fabs(out) > 65504.0f) return sign ? -INFINITY : INFINITY;  // rounded past the largest half
  return out;
}

uint16_t HalfBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const float magnitude = std::fabs(value);
  if (magnitude == 0.0f) return sign;
  if (magnitude < 6.103515625e-05f) return sign | static_cast<uint16_t>(magnitude * 16777216.0f);  // subnormal
  const int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  return sign | static_cast<uint16_t>(exponent << 10) | static_cast<uint16_t>((bits >> 13) & 0x3ffu);
}

}  // namespace convert
}  // namespace ple
