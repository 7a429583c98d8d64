#include "json_reader.h"

#include <fstream>

#include "convert_error.h"

namespace ple {
namespace convert {

nlohmann::json ReadJsonFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw ConvertError("cannot open the " + what + " '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ConvertError("the " + what + " '" + path + "' is not valid JSON: " + e.what());
  }
}

namespace {
constexpr uint32_t kMaxUnits = 1u << 16;  // the widest layer a config may declare
}  // namespace

void JsonReader::Fail(const std::string& where, const std::string& message) const {
  throw ConvertError(std::string(source_) + ": " + where + ": " + message);
}

bool JsonReader::Has(const json& object, const char* key) const {
  return object.is_object() && object.contains(key) && !(null_is_absent_ && object[key].is_null());
}

const JsonReader::json& JsonReader::Required(const json& object, const char* key, const std::string& where) const {
  if (!Has(object, key)) Fail(where, std::string("key '") + key + "' is required");
  return object[key];
}

void JsonReader::CheckKeys(const json& object, const std::string& where,
                           std::initializer_list<const char*> known) const {
  if (!object.is_object()) Fail(where, "an object expected, found " + std::string(object.type_name()));
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool found = false;
    for (const char* key : known) found = found || it.key() == key;
    if (!found) {
      std::string list;
      for (const char* key : known) list += (list.empty() ? "" : ", ") + std::string(key);
      Fail(where, "unknown key '" + it.key() + "' (known keys: " + list + ")");
    }
  }
}

std::string JsonReader::String(const json& object, const char* key, const std::string& where) const {
  const json& value = Required(object, key, where);
  if (!value.is_string()) Fail(where + "." + key, "a string expected");
  return value.get<std::string>();
}

std::string JsonReader::String(const json& object, const char* key, const std::string& where,
                               const std::string& fallback) const {
  return Has(object, key) ? String(object, key, where) : fallback;
}

bool JsonReader::Bool(const json& object, const char* key, const std::string& where, bool fallback) const {
  if (!Has(object, key)) return fallback;
  if (!object[key].is_boolean()) Fail(where + "." + key, "true or false expected");
  return object[key].get<bool>();
}

int64_t JsonReader::Int(const json& value, const std::string& where) const {
  if (!value.is_number_integer()) Fail(where, "an integer expected, found " + value.dump());
  return value.get<int64_t>();
}

uint32_t JsonReader::AsCount(const json& value, const std::string& where, uint32_t min, uint32_t max) const {
  if (!value.is_number_integer() || value.get<int64_t>() < min || value.get<int64_t>() > max) {
    Fail(where, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] expected, found " +
                    value.dump());
  }
  return static_cast<uint32_t>(value.get<int64_t>());
}

uint32_t JsonReader::Count(const json& object, const char* key, const std::string& where, uint32_t min,
                           uint32_t max) const {
  return AsCount(Required(object, key, where), where + "." + key, min, max);
}

uint32_t JsonReader::Count(const json& object, const char* key, const std::string& where, uint32_t min, uint32_t max,
                           uint32_t fallback) const {
  return Has(object, key) ? Count(object, key, where, min, max) : fallback;
}

std::vector<uint32_t> JsonReader::Units(const json& object, const char* key, const std::string& where,
                                        const std::vector<uint32_t>& fallback, bool allow_empty) const {
  if (!Has(object, key)) return fallback;
  const json& units = object[key];
  if (!units.is_array()) Fail(where + "." + key, "a list of layer widths expected");
  if (units.empty() && !allow_empty) Fail(where + "." + key, "at least one layer expected");
  std::vector<uint32_t> out;
  for (size_t i = 0; i < units.size(); ++i) {
    out.push_back(AsCount(units[i], where + "." + key + "[" + std::to_string(i) + "]", 1, kMaxUnits));
  }
  return out;
}

std::vector<uint32_t> JsonReader::Units(const json& object, const char* key, const std::string& where,
                                        bool allow_empty) const {
  if (!allow_empty) Required(object, key, where);
  return Units(object, key, where, {}, allow_empty);
}

}  // namespace convert
}  // namespace ple
