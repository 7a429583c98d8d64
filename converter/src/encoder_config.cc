#include "encoder_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include "json_reader.h"
#include "run/encoder.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

// A whole string as an int64 (key_type "int" keys from object keys and text lines).
bool ParseInt64(const std::string& text, int64_t* value) {
  size_t used = 0;
  try {
    *value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return !text.empty() && used == text.size();
}

// A vocabulary's keys (strings or ints) and ids from a JSON value: a list (ids = offset +
// position) or an object (key -> id; object keys are strings).
void KeysFromJson(const json& v, const std::string& where, int64_t id_offset, bool int_keys_wanted,
                  EncoderConfig* e) {
  if (v.is_array()) {
    if (v.empty()) kConfigJson.Fail(where, "an empty vocabulary");
    const bool ints = v[0].is_number_integer();
    for (size_t i = 0; i < v.size(); ++i) {
      if (ints != v[i].is_number_integer() || (!ints && !v[i].is_string())) {
        kConfigJson.Fail(where + "[" + std::to_string(i) + "]", "keys must all be strings or all integers");
      }
      if (ints) {
        e->int_keys.push_back(v[i].get<int64_t>());
      } else {
        e->string_keys.push_back(v[i].get<std::string>());
      }
      e->ids.push_back(id_offset + static_cast<int64_t>(i));
    }
    e->kind = ints || int_keys_wanted ? fb::EncoderKind::IntVocabulary : fb::EncoderKind::StringVocabulary;
    if (int_keys_wanted && !ints) kConfigJson.Fail(where, "key_type \"int\" but the keys are strings");
    return;
  }
  if (v.is_object()) {
    if (v.empty()) kConfigJson.Fail(where, "an empty vocabulary");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (int_keys_wanted) {
        int64_t key = 0;
        if (!ParseInt64(it.key(), &key))
          kConfigJson.Fail(where, "key '" + it.key() + "' is not an integer (key_type \"int\")");
        e->int_keys.push_back(key);
      } else {
        e->string_keys.push_back(it.key());
      }
      e->ids.push_back(kConfigJson.Int(it.value(), where + "." + it.key()));
    }
    e->kind = int_keys_wanted ? fb::EncoderKind::IntVocabulary : fb::EncoderKind::StringVocabulary;
    return;
  }
  kConfigJson.Fail(where, "a list of keys, an object of key -> id, or a file name expected");
}

// Keys from a file: .json (as inline), anything else: UTF-8 text, one key per line (a final
// newline does not make an empty key; "\r\n" endings are accepted).
void KeysFromFile(const std::string& path, const std::string& where, int64_t id_offset, bool int_keys_wanted,
                  EncoderConfig* e) {
  std::ifstream in(path, std::ios::binary);
  if (!in) kConfigJson.Fail(where, "cannot open vocabulary file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    json v;
    try {
      v = json::parse(content);
    } catch (const json::exception& error) {
      kConfigJson.Fail(where, "'" + path + "' is not valid JSON: " + error.what());
    }
    KeysFromJson(v, where + " ('" + path + "')", id_offset, int_keys_wanted, e);
    return;
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) kConfigJson.Fail(where, "'" + path + "' is empty");
  json list = json::array();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (int_keys_wanted) {
      int64_t key = 0;
      if (!ParseInt64(lines[i], &key)) {
        kConfigJson.Fail(where,
                         "'" + path + "' line " + std::to_string(i + 1) + " is not an integer (key_type \"int\")");
      }
      list.push_back(key);
    } else {
      if (!rt::IsValidUtf8(reinterpret_cast<const uint8_t*>(lines[i].data()), lines[i].size()))
        kConfigJson.Fail(where, "'" + path + "' line " + std::to_string(i + 1) + " is not valid UTF-8");
      list.push_back(lines[i]);
    }
  }
  KeysFromJson(list, where + " ('" + path + "')", id_offset, int_keys_wanted, e);
}

// Sorts the keys (bytewise, or numerically) with their ids, refusing duplicates.
void SortKeys(const std::string& where, EncoderConfig* e) {
  std::vector<size_t> order(e->ids.size());
  std::iota(order.begin(), order.end(), 0);
  const bool strings = e->kind == fb::EncoderKind::StringVocabulary;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return strings ? e->string_keys[a] < e->string_keys[b] : e->int_keys[a] < e->int_keys[b];
  });
  std::vector<std::string> string_keys;
  std::vector<int64_t> int_keys, ids;
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t k = order[i];
    if (i > 0 && (strings ? e->string_keys[k] == string_keys.back() : e->int_keys[k] == int_keys.back())) {
      kConfigJson.Fail(where, "key " + (strings ? "'" + e->string_keys[k] + "'" : std::to_string(e->int_keys[k])) +
                                  " appears twice");
    }
    if (strings) {
      string_keys.push_back(e->string_keys[k]);
    } else {
      int_keys.push_back(e->int_keys[k]);
    }
    ids.push_back(e->ids[k]);
  }
  e->string_keys = std::move(string_keys);
  e->int_keys = std::move(int_keys);
  e->ids = std::move(ids);
}

}  // namespace

EncoderConfig ParseEncoder(const json& spec, const std::string& where, uint32_t table_rows,
                           const std::string& base_directory) {
  if (!spec.is_object()) kConfigJson.Fail(where, "an object expected");
  static const std::set<std::string> kKeys = {"vocabulary", "key_type", "id_offset", "oov_id",
                                              "hash_buckets", "input", "boundaries"};
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (!kKeys.count(it.key())) kConfigJson.Fail(where, "unknown key '" + it.key() + "'");
  }
  const int kinds = spec.contains("vocabulary") + spec.contains("hash_buckets") + spec.contains("boundaries");
  if (kinds != 1) kConfigJson.Fail(where, "exactly one of 'vocabulary', 'hash_buckets' and 'boundaries' expected");
  EncoderConfig e;
  e.source = "inline";
  auto check_id = [&](int64_t id, const std::string& what) {
    if (id < 0 || static_cast<uint64_t>(id) >= table_rows) {
      kConfigJson.Fail(where, what + " " + std::to_string(id) + " is outside the embedding table's " +
                                  std::to_string(table_rows) + " rows");
    }
  };
  if (spec.contains("vocabulary")) {
    const std::string key_type = spec.value("key_type", std::string("auto"));
    if (key_type != "auto" && key_type != "string" && key_type != "int") {
      kConfigJson.Fail(where + ".key_type", "\"string\" or \"int\" expected");
    }
    const int64_t id_offset = spec.contains("id_offset") ? kConfigJson.Int(spec["id_offset"], where + ".id_offset") : 0;
    const json& v = spec["vocabulary"];
    if (v.is_string()) {
      std::string path = v.get<std::string>();
      if (!path.empty() && path[0] != '/' && !base_directory.empty()) path = base_directory + "/" + path;
      e.source = v.get<std::string>();
      KeysFromFile(path, where + ".vocabulary", id_offset, key_type == "int", &e);
    } else {
      KeysFromJson(v, where + ".vocabulary", id_offset, key_type == "int", &e);
    }
    if (key_type == "string" && e.kind != fb::EncoderKind::StringVocabulary) {
      kConfigJson.Fail(where + ".vocabulary", "key_type \"string\" but the keys are integers");
    }
    SortKeys(where + ".vocabulary", &e);
    for (int64_t id : e.ids) check_id(id, "vocabulary id");
    if (spec.contains("oov_id")) {
      e.has_oov_id = true;
      e.oov_id = kConfigJson.Int(spec["oov_id"], where + ".oov_id");
      check_id(e.oov_id, "oov_id");
    }
    return e;
  }
  if (spec.contains("oov_id") || spec.contains("id_offset") || spec.contains("key_type")) {
    kConfigJson.Fail(where, "'oov_id', 'id_offset' and 'key_type' apply to a vocabulary");
  }
  if (spec.contains("hash_buckets")) {
    const int64_t buckets = kConfigJson.Int(spec["hash_buckets"], where + ".hash_buckets");
    if (buckets < 1 || static_cast<uint64_t>(buckets) > table_rows) {
      kConfigJson.Fail(where + ".hash_buckets", std::to_string(buckets) + " outside [1, " + std::to_string(table_rows) +
                                                    "] (the embedding table's rows)");
    }
    const std::string input = spec.value("input", std::string("string"));
    if (input != "string" && input != "int") kConfigJson.Fail(where + ".input", "\"string\" or \"int\" expected");
    e.kind = input == "string" ? fb::EncoderKind::HashString : fb::EncoderKind::HashInt;
    e.buckets = static_cast<uint64_t>(buckets);
    return e;
  }
  if (spec.contains("input")) kConfigJson.Fail(where + ".input", "applies to 'hash_buckets'");
  const json& b = spec["boundaries"];
  if (!b.is_array() || b.empty()) kConfigJson.Fail(where + ".boundaries", "a non-empty list of numbers expected");
  for (size_t i = 0; i < b.size(); ++i) {
    if (!b[i].is_number()) kConfigJson.Fail(where + ".boundaries", "a non-empty list of numbers expected");
    const float x = b[i].get<float>();
    if (!std::isfinite(x) || (i > 0 && !(e.boundaries.back() < x))) {
      kConfigJson.Fail(where + ".boundaries",
                       "must be finite and strictly ascending (as float32), at " + std::to_string(i));
    }
    e.boundaries.push_back(x);
  }
  if (e.boundaries.size() + 1 > table_rows) {
    kConfigJson.Fail(where + ".boundaries", std::to_string(e.boundaries.size()) + " boundaries make " +
                                                std::to_string(e.boundaries.size() + 1) + " buckets; the table has " +
                                                std::to_string(table_rows) + " rows");
  }
  e.kind = fb::EncoderKind::Boundaries;
  return e;
}

flatbuffers::Offset<fb::Encoder> WriteEncoder(flatbuffers::FlatBufferBuilder& builder, const EncoderConfig& e) {
  flatbuffers::Offset<flatbuffers::Vector<uint32_t>> offsets = 0;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> bytes = 0;
  flatbuffers::Offset<flatbuffers::Vector<int64_t>> int_keys = 0, ids = 0;
  flatbuffers::Offset<flatbuffers::Vector<float>> boundaries = 0;
  if (e.kind == fb::EncoderKind::StringVocabulary) {
    std::vector<uint32_t> o = {0};
    std::string all;
    for (const std::string& key : e.string_keys) {
      all += key;
      o.push_back(static_cast<uint32_t>(all.size()));
    }
    offsets = builder.CreateVector(o);
    bytes = builder.CreateVector(reinterpret_cast<const uint8_t*>(all.data()), all.size());
  }
  if (e.kind == fb::EncoderKind::IntVocabulary) int_keys = builder.CreateVector(e.int_keys);
  if (!e.ids.empty()) ids = builder.CreateVector(e.ids);
  if (!e.boundaries.empty()) boundaries = builder.CreateVector(e.boundaries);
  fb::EncoderBuilder b(builder);
  b.add_kind(e.kind);
  if (!offsets.IsNull()) {
    b.add_string_offsets(offsets);
    b.add_string_bytes(bytes);
  }
  if (!int_keys.IsNull()) b.add_int_keys(int_keys);
  if (!ids.IsNull()) b.add_ids(ids);
  b.add_has_oov_id(e.has_oov_id);
  b.add_oov_id(e.oov_id);
  b.add_buckets(e.buckets);
  if (!boundaries.IsNull()) b.add_boundaries(boundaries);
  return b.Finish();
}

}  // namespace convert
}  // namespace ple
