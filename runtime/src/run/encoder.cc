#include "run/encoder.h"

#include <cmath>
#include <cstring>

#include "run/hash64.h"

namespace ple::rt {

bool IsValidUtf8(const uint8_t* s, size_t size) {
  size_t i = 0;
  while (i < size) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t min, code;
    if ((c & 0xe0) == 0xc0) {
      extra = 1, min = 0x80, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, min = 0x800, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, min = 0x10000, code = c & 0x07;
    } else {
      return false;  // a continuation byte first, or 0xf8..0xff
    }
    if (size - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

int CompareBytes(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size) {
  const size_t n = a_size < b_size ? a_size : b_size;
  const int c = n ? std::memcmp(a, b, n) : 0;
  if (c != 0) return c;
  return a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

const char* EncoderKindName(EncoderKind kind) {
  switch (kind) {
    case EncoderKind::kNone: return "none";
    case EncoderKind::kStringVocabulary: return "string vocabulary";
    case EncoderKind::kIntVocabulary: return "int64 vocabulary";
    case EncoderKind::kHashString: return "hash of strings";
    case EncoderKind::kHashInt: return "hash of int64";
    case EncoderKind::kBoundaries: return "bucket boundaries";
  }
  return "?";
}

namespace {

ple_status WrongInput(const FeatureSpec& f, const char* given) {
  if (f.encoder.kind == EncoderKind::kNone) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s' has no encoder: give its ids, not %s", f.name.c_str(),
                     given);
  }
  return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s' encodes with a %s: it does not take %s", f.name.c_str(),
                   EncoderKindName(f.encoder.kind), given);
}

// The vocabulary's id of key `index`, or the OOV id (false: no OOV id).
bool VocabularyId(const EncoderSpec& e, size_t index, bool found, int64_t* id) {
  if (found) {
    *id = e.ids[index];
    return true;
  }
  if (!e.has_oov_id) return false;
  *id = e.oov_id;
  return true;
}

}  // namespace

ple_status EncodeStrings(const FeatureSpec& f, const char* const* values, const size_t* lengths, size_t count,
                     int64_t* ids) {
  const EncoderSpec& e = f.encoder;
  if (e.kind != EncoderKind::kStringVocabulary && e.kind != EncoderKind::kHashString) return WrongInput(f, "strings");
  for (size_t i = 0; i < count; ++i) {
    if (values[i] == nullptr) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': value %zu is NULL", f.name.c_str(), i);
    }
    const auto* s = reinterpret_cast<const uint8_t*>(values[i]);
    const size_t size = lengths ? lengths[i] : std::strlen(values[i]);
    if (!IsValidUtf8(s, size)) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': value %zu is not valid UTF-8", f.name.c_str(), i);
    }
    if (e.kind == EncoderKind::kHashString) {
      ids[i] = static_cast<int64_t>(Hash64(s, size) % e.buckets);
      continue;
    }
    size_t low = 0, high = e.size;  // the first key >= s
    while (low < high) {
      const size_t mid = low + (high - low) / 2;
      const uint32_t begin = e.string_offsets[mid];
      if (CompareBytes(e.string_bytes + begin, e.string_offsets[mid + 1] - begin, s, size) < 0) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    const bool found = low < e.size && CompareBytes(e.string_bytes + e.string_offsets[low],
                                                    e.string_offsets[low + 1] - e.string_offsets[low], s, size) == 0;
    if (!VocabularyId(e, low, found, &ids[i])) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': value %zu ('%.*s') is not in its vocabulary of %zu "
                       "and the encoder has no OOV id", f.name.c_str(), i, static_cast<int>(size < 40 ? size : 40),
                       values[i], e.size);
    }
  }
  return PLE_OK;
}

ple_status EncodeInts(const FeatureSpec& f, const int64_t* values, size_t count, int64_t* ids) {
  const EncoderSpec& e = f.encoder;
  if (e.kind != EncoderKind::kIntVocabulary && e.kind != EncoderKind::kHashInt) return WrongInput(f, "int64 values");
  for (size_t i = 0; i < count; ++i) {
    if (e.kind == EncoderKind::kHashInt) {
      ids[i] = static_cast<int64_t>(Hash64OfInt(values[i]) % e.buckets);
      continue;
    }
    size_t low = 0, high = e.size;
    while (low < high) {
      const size_t mid = low + (high - low) / 2;
      if (e.int_keys[mid] < values[i]) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    if (!VocabularyId(e, low, low < e.size && e.int_keys[low] == values[i], &ids[i])) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': value %zu (%lld) is not in its vocabulary of %zu "
                       "and the encoder has no OOV id", f.name.c_str(), i, static_cast<long long>(values[i]), e.size);
    }
  }
  return PLE_OK;
}

ple_status EncodeFloats(const FeatureSpec& f, const float* values, size_t count, int64_t* ids) {
  const EncoderSpec& e = f.encoder;
  if (e.kind != EncoderKind::kBoundaries) return WrongInput(f, "floats");
  for (size_t i = 0; i < count; ++i) {
    const float x = values[i];
    if (std::isnan(x)) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': value %zu is NaN", f.name.c_str(), i);
    }
    size_t low = 0, high = e.size;  // the number of boundaries <= x
    while (low < high) {
      const size_t mid = low + (high - low) / 2;
      if (e.boundaries[mid] <= x) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    ids[i] = static_cast<int64_t>(low);
  }
  return PLE_OK;
}

}  // namespace ple::rt
