// ple_hash64: the documented 64-bit hash of the hash encoders (docs/encoders.md). FNV-1a 64
// over the bytes, then MurmurHash3's fmix64 finalizer to spread the low bits (bucket = hash %
// buckets). tools/ple_hash.py is the Python twin; tests/data/hash_vectors.json binds both.
#ifndef PLE_RUNTIME_RUN_HASH64_H_
#define PLE_RUNTIME_RUN_HASH64_H_

#include <cstddef>
#include <cstdint>

namespace ple::rt {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

inline uint64_t Hash64(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint64_t h = kFnvOffsetBasis;
  for (size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= kFnvPrime;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// An int64 value hashes as its 8 little-endian bytes (whatever the host's byte order).
inline uint64_t Hash64OfInt(int64_t value) {
  uint8_t bytes[8];
  const uint64_t v = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(v >> (8 * i));
  return Hash64(bytes, sizeof bytes);
}

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_HASH64_H_
