// SHA-256 (FIPS 180-4), for the model file's integrity trailer and pinned digests. Our own
// implementation: the runtime links nothing but FlatBuffers. Tested against the standard's
// example vectors (tests/unit/integrity_test.cc).
#ifndef PLE_RUNTIME_LOAD_SHA256_H_
#define PLE_RUNTIME_LOAD_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ple::rt {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental: Update any number of times, then Finish once.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  Sha256Digest Finish();

 private:
  void Compress(const uint8_t* block);  // one 64-byte block

  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

inline Sha256Digest Sha256Of(const void* data, size_t size) {
  Sha256 hash;
  hash.Update(data, size);
  return hash.Finish();
}

// Lowercase hex, as sha256sum prints digests.
std::string HexOf(const uint8_t* bytes, size_t size);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_SHA256_H_
