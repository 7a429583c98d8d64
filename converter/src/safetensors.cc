#include "safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit is 100 MB

struct DTypeEntry {
  const char* name;
  SafeDType dtype;
  size_t bytes;
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", SafeDType::kF64, 8}, {"F32", SafeDType::kF32, 4}, {"F16", SafeDType::kF16, 2},
    {"BF16", SafeDType::kBF16, 2}, {"I64", SafeDType::kI64, 8}, {"I32", SafeDType::kI32, 4},
    {"I8", SafeDType::kI8, 1},   {"U8", SafeDType::kU8, 1},   {"BOOL", SafeDType::kBool, 1}};

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    value = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    value = std::ldexp(static_cast<float>(mantissa | 0x400), static_cast<int>(exponent) - 25);
  }
  return sign ? -value : value;
}

template <typename T>
T Load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // little-endian host (x86, ARM): documented assumption
  return value;
}

}  // namespace

const char* SafeDTypeName(SafeDType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.name;
  }
  return "?";
}

size_t SafeDTypeBytes(SafeDType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.bytes;
  }
  return 0;
}

uint64_t SafeTensor::element_count() const {
  uint64_t count = 1;
  for (uint64_t d : shape) count *= d;
  return count;
}

std::string SafeTensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<float> SafeTensor::ToFloat(const std::string& name, bool allow_non_finite) const {
  const uint64_t count = element_count();
  std::vector<float> values(count);
  for (uint64_t i = 0; i < count; ++i) {
    switch (dtype) {
      case SafeDType::kF32: values[i] = Load<float>(data + 4 * i); break;
      case SafeDType::kF64: {
        const double d = Load<double>(data + 8 * i);
        // Converting an out-of-range double to float is undefined: map it to Inf (NaN stays NaN).
        values[i] = std::fabs(d) <= std::numeric_limits<float>::max() ? static_cast<float>(d)
                    : std::isnan(d)                                  ? std::numeric_limits<float>::quiet_NaN()
                                                                      : std::numeric_limits<float>::infinity();
        break;
      }
      case SafeDType::kF16: values[i] = HalfToFloat(Load<uint16_t>(data + 2 * i)); break;
      case SafeDType::kBF16: {
        const uint32_t bits = static_cast<uint32_t>(Load<uint16_t>(data + 2 * i)) << 16;
        std::memcpy(&values[i], &bits, 4);
        break;
      }
      default:
        throw ConvertError("tensor '" + name + "': dtype " + SafeDTypeName(dtype) +
                           " is not a floating-point type (F32, F64, F16 or BF16 expected)");
    }
    if (!allow_non_finite && !std::isfinite(values[i])) {
      throw ConvertError("tensor '" + name + "': element " + std::to_string(i) +
                         " is not finite in float32 (NaN, Inf or out of range); weights must be finite");
    }
  }
  return values;
}

SafeTensorsFile SafeTensorsFile::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConvertError("cannot open weights file '" + path + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ConvertError("cannot read weights file '" + path + "'");
  return Parse(std::move(bytes), "weights file '" + path + "'");
}

namespace {

// One header entry: its dtype, shape and data range, checked against the `data_bytes`-byte data
// section at `data`.
SafeTensor ParseEntry(const nlohmann::json& entry, const std::string& where, const uint8_t* data,
                      uint64_t data_bytes) {
  SafeTensor tensor;
  bool known = false;
  if (entry["dtype"].is_string()) {
    for (const auto& d : kDTypes) {
      if (entry["dtype"] == d.name) {
        tensor.dtype = d.dtype;
        known = true;
      }
    }
  }
  if (!known) throw ConvertError(where + ": unsupported dtype " + entry["dtype"].dump());
  const auto& shape = entry["shape"];
  const auto& offsets = entry["data_offsets"];
  if (!shape.is_array()) throw ConvertError(where + ": shape is not an array");
  uint64_t count = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) throw ConvertError(where + ": shape has a non-integer or negative dimension");
    const uint64_t dim = d.get<uint64_t>();
    if (dim != 0 && count > (uint64_t{1} << 40) / dim) throw ConvertError(where + ": shape too large");
    count *= dim;
    tensor.shape.push_back(dim);
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    throw ConvertError(where + ": data_offsets must be [begin, end]");
  }
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (begin > end || end > data_bytes) {
    throw ConvertError(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] outside the " + std::to_string(data_bytes) + "-byte data section");
  }
  if (end - begin != count * SafeDTypeBytes(tensor.dtype)) {
    throw ConvertError(where + ": " + std::to_string(end - begin) + " data bytes for shape " + tensor.shape_string() +
                       " of " + SafeDTypeName(tensor.dtype) + " (" +
                       std::to_string(count * SafeDTypeBytes(tensor.dtype)) + " expected)");
  }
  tensor.data = data + begin;
  tensor.size_bytes = end - begin;
  return tensor;
}

}  // namespace

SafeTensorsFile SafeTensorsFile::Parse(std::vector<uint8_t> bytes, const std::string& what) {
  SafeTensorsFile file;
  file.bytes_ = std::move(bytes);
  const auto& b = file.bytes_;
  if (b.size() < 8) throw ConvertError(what + ": " + std::to_string(b.size()) + " bytes, not a safetensors file");
  const uint64_t header_bytes = Load<uint64_t>(b.data());
  if (header_bytes > kMaxHeaderBytes || header_bytes > b.size() - 8) {
    throw ConvertError(what + ": header length " + std::to_string(header_bytes) + " does not fit in the " +
                       std::to_string(b.size()) + "-byte file (truncated or not safetensors)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + static_cast<ptrdiff_t>(header_bytes));
  } catch (const nlohmann::json::exception& e) {
    throw ConvertError(what + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw ConvertError(what + ": header is not a JSON object");
  const uint8_t* data = b.data() + 8 + header_bytes;
  const uint64_t data_bytes = b.size() - 8 - header_bytes;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw ConvertError(what + ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) throw ConvertError(what + ": __metadata__." + m.key() + " is not a string");
        file.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = what + ": tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
      throw ConvertError(where + ": entry needs dtype, shape and data_offsets");
    }
    const SafeTensor tensor = ParseEntry(entry, where, data, data_bytes);
    const uint64_t begin = static_cast<uint64_t>(tensor.data - data);
    ranges.emplace_back(begin, begin + tensor.size_bytes);
    file.tensors_[name] = tensor;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) throw ConvertError(what + ": two tensors overlap in the data section");
  }
  return file;
}

const SafeTensor* SafeTensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<uint8_t> WriteSafeTensors(const std::map<std::string, SafeTensorToWrite>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    header[name] = {{"dtype", SafeDTypeName(tensor.dtype)},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  const uint64_t length = text.size();
  std::vector<uint8_t> out(8 + text.size() + offset);
  std::memcpy(out.data(), &length, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const auto& entry : tensors) {
    if (!entry.second.bytes.empty()) std::memcpy(data, entry.second.bytes.data(), entry.second.bytes.size());
    data += entry.second.bytes.size();
  }
  return out;
}

SafeTensorToWrite MakeF32Tensor(const std::vector<uint64_t>& shape, const std::vector<float>& values) {
  SafeTensorToWrite tensor;
  tensor.dtype = SafeDType::kF32;
  tensor.shape = shape;
  tensor.bytes.resize(values.size() * sizeof(float));
  std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

}  // namespace convert
}  // namespace ple
