// Reading a JSON description (our config format, a framework's model description, an encoder
// spec) with one vocabulary, whose errors name the place: throws ConvertError
// "<source>: <where>: <message>", e.g. "config: levels[0].expert.units: at least one layer
// expected" or "torch-rechub config: features[2].vocab_size: ...". `where` is the JSON path of
// the object being read; a key's error appends ".key".
#ifndef PLE_CONVERTER_JSON_READER_H_
#define PLE_CONVERTER_JSON_READER_H_

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace ple {
namespace convert {

// The JSON document in file `path`; throws ConvertError "cannot open the <what> '<path>'" or
// "the <what> '<path>' is not valid JSON: ..." (`what`: "config", "sidecar").
nlohmann::json ReadJsonFile(const std::string& path, const std::string& what);

class JsonReader {
 public:
  using json = nlohmann::json;

  // `source` prefixes every error ("config", "torch-rechub config"); it must outlive the reader
  // (a string literal). With `null_is_absent`, a key whose value is null reads as absent: a
  // framework's description is dumped from Python keyword arguments, where None is the default.
  constexpr explicit JsonReader(const char* source, bool null_is_absent = false)
      : source_(source), null_is_absent_(null_is_absent) {}

  [[noreturn]] void Fail(const std::string& where, const std::string& message) const;

  // The key is present (and, with null_is_absent, not null).
  bool Has(const json& object, const char* key) const;
  // The key's value; "key 'k' is required" when it is absent.
  const json& Required(const json& object, const char* key, const std::string& where) const;
  // `object` is an object whose keys are all in `known`; the error lists them.
  void CheckKeys(const json& object, const std::string& where, std::initializer_list<const char*> known) const;

  std::string String(const json& object, const char* key, const std::string& where) const;
  std::string String(const json& object, const char* key, const std::string& where,
                     const std::string& fallback) const;
  bool Bool(const json& object, const char* key, const std::string& where, bool fallback) const;
  int64_t Int(const json& value, const std::string& where) const;
  // An integer in [min, max]; `where` names the value itself.
  uint32_t AsCount(const json& value, const std::string& where, uint32_t min, uint32_t max) const;
  uint32_t Count(const json& object, const char* key, const std::string& where, uint32_t min, uint32_t max) const;
  uint32_t Count(const json& object, const char* key, const std::string& where, uint32_t min, uint32_t max,
                 uint32_t fallback) const;
  // A list of layer widths in [1, 2^16]. Absent: `fallback`. Empty: an error unless allow_empty.
  std::vector<uint32_t> Units(const json& object, const char* key, const std::string& where,
                              const std::vector<uint32_t>& fallback, bool allow_empty) const;
  // Absent: empty when allow_empty, else required.
  std::vector<uint32_t> Units(const json& object, const char* key, const std::string& where, bool allow_empty) const;

  // One of a fixed set of strings, mapped to its value; `fallback` when the key is absent
  // (required when there is none).
  template <typename T>
  T Choice(const json& object, const char* key, const std::string& where,
           std::initializer_list<std::pair<const char*, T>> choices, const T* fallback = nullptr) const {
    if (fallback != nullptr && !Has(object, key)) return *fallback;
    const std::string value = String(object, key, where);
    std::string known;
    for (const auto& choice : choices) {
      if (value == choice.first) return choice.second;
      known += (known.empty() ? "\"" : " or \"") + std::string(choice.first) + "\"";
    }
    Fail(where + "." + key, known + " expected, found \"" + value + "\"");
  }

 private:
  const char* source_;
  bool null_is_absent_;
};

// Our own config format (docs/config-format.md): errors start "config: ", null is a value.
inline constexpr JsonReader kConfigJson{"config"};

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_JSON_READER_H_
