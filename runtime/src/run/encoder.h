// Feature encoders (docs/encoders.md): raw values (UTF-8 strings, int64, float) to the ids a
// sparse or sequence feature reads, with the encoder stored in the model file. Lookups read
// the mapped bytes in place: binary search in vocabularies, ple_hash64 for hash buckets,
// binary search in bucket boundaries. No allocation; errors name the feature, the value's
// index and what was wrong.
#ifndef PLE_RUNTIME_RUN_ENCODER_H_
#define PLE_RUNTIME_RUN_ENCODER_H_

#include <cstddef>
#include <cstdint>

#include "load/model.h"
#include "status.h"

namespace ple::rt {

constexpr size_t kMaxVocabularyKeys = size_t{1} << 31;

// True when bytes[0, size) is well-formed UTF-8 (no overlong forms, surrogates or values past
// U+10FFFF).
bool IsValidUtf8(const uint8_t* bytes, size_t size);
// memcmp order, a prefix first.
int CompareBytes(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size);

// `lengths` may be null: the values are NUL-terminated. Errors go to this thread's last error
// (SetLastError: no allocation, unlike a Status); nothing past the failing index is written.
ple_status EncodeStrings(const FeatureSpec& feature, const char* const* values, const size_t* lengths, size_t count,
                         int64_t* ids);
ple_status EncodeInts(const FeatureSpec& feature, const int64_t* values, size_t count, int64_t* ids);
ple_status EncodeFloats(const FeatureSpec& feature, const float* values, size_t count, int64_t* ids);

const char* EncoderKindName(EncoderKind kind);  // "string vocabulary", "hash of strings", ...

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_ENCODER_H_
