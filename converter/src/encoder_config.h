// A feature's encoder in the converter's config (docs/encoders.md): a vocabulary (inline, or a
// file a training pipeline writes: a JSON list such as a label encoder's classes_, a JSON
// object of key -> id, or a text file of one key per line), a hash bucket count, or bucket
// boundaries. Checked against the feature's embedding table; written as fb::Encoder.
#ifndef PLE_CONVERTER_ENCODER_CONFIG_H_
#define PLE_CONVERTER_ENCODER_CONFIG_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ple_model_generated.h"

namespace ple {
namespace convert {

struct EncoderConfig {
  fb::EncoderKind kind = fb::EncoderKind::None;
  std::vector<std::string> string_keys;  // StringVocabulary: sorted bytewise, unique
  std::vector<int64_t> int_keys;         // IntVocabulary: ascending, unique
  std::vector<int64_t> ids;              // vocabularies: one per key
  bool has_oov_id = false;
  int64_t oov_id = 0;
  uint64_t buckets = 0;                  // hashes
  std::vector<float> boundaries;         // ascending
  std::string source;                    // "inline" or the vocabulary file, for messages
};

// `spec` is the feature's "encoder" object; `where` names it in messages; files are relative
// to `base_directory`. Throws ConvertError naming the problem.
EncoderConfig ParseEncoder(const nlohmann::json& spec, const std::string& where, uint32_t table_rows,
                           const std::string& base_directory);

flatbuffers::Offset<fb::Encoder> WriteEncoder(flatbuffers::FlatBufferBuilder& builder, const EncoderConfig& encoder);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ENCODER_CONFIG_H_
