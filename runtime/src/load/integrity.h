// The model file's integrity trailer (docs/file-format.md, "Integrity trailer") and the
// checks a caller asks for at load (ple_model_open_options).
//
// Layout: the last 112 bytes of every file ple-convert writes, after the
// FlatBuffer (FlatBuffers reads from the front, so older readers never see it):
//   [0, 8)     magic "PLETRL01"
//   [8, 12)    flags, little-endian uint32: bit 0 = signed
//   [12, 16)   reserved, zero
//   [16, 48)   SHA-256 of every byte before the trailer
//   [48, 112)  Ed25519 signature of those 32 digest bytes (zeros when unsigned)
// The digest does not cover the trailer; its fields are checked for consistency instead
// (unknown flags, reserved bits, a signature present iff flagged), so any one corrupted byte
// of an unsigned file is caught; a signed file's signature bytes only by verifying it.
#ifndef PLE_RUNTIME_LOAD_INTEGRITY_H_
#define PLE_RUNTIME_LOAD_INTEGRITY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "load/sha256.h"
#include "status.h"

namespace ple::rt {

struct IntegrityTrailer {
  char magic[8];
  uint32_t flags;
  uint32_t reserved;
  uint8_t sha256[32];
  uint8_t signature[64];
};
static_assert(sizeof(IntegrityTrailer) == 112, "the trailer's layout is part of the file format");
static_assert(offsetof(IntegrityTrailer, sha256) == 16 && offsetof(IntegrityTrailer, signature) == 48,
              "the trailer's layout is part of the file format");

constexpr char kTrailerMagic[8] = {'P', 'L', 'E', 'T', 'R', 'L', '0', '1'};
constexpr uint32_t kTrailerSigned = 1;
constexpr size_t kEd25519PublicKeyBytes = 32, kEd25519SecretKeyBytes = 64, kEd25519SignatureBytes = 64;

// True, with the trailer copied to `out`, when the file ends with one.
bool FindTrailer(const uint8_t* file, size_t size, IntegrityTrailer* out);

// What a caller asks of a file at load (the fields of ple_model_open_options).
struct IntegrityRequest {
  bool verify_checksum = false;            // the trailer must be there and its SHA-256 match
  const uint8_t* expected_sha256 = nullptr;  // 32 bytes: the whole file's SHA-256
  const uint8_t* public_key = nullptr;       // 32 bytes: the trailer must be signed by it
};

// PLE_ERROR_INTEGRITY naming what did not match; PLE_ERROR_UNSUPPORTED for a public key in a
// build without libsodium. Reads the whole file when anything is asked.
Status CheckIntegrity(const uint8_t* file, size_t size, const IntegrityRequest& request);

// The converter's side: `file` with a trailer appended (signed when `secret_key`, 64 bytes
// in libsodium's layout, is given; that needs libsodium). Deterministic (Ed25519 is).
Status AppendTrailer(std::vector<uint8_t>* file, const uint8_t* secret_key);

// Ed25519 through libsodium (builds with PLE_SODIUM); without it these return false.
bool Ed25519Available();
bool Ed25519Verify(const uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* public_key);
bool Ed25519Sign(uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* secret_key);
// A new key pair (public 32 bytes, secret 64 bytes).
bool Ed25519KeyPair(uint8_t* public_key, uint8_t* secret_key);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_INTEGRITY_H_
