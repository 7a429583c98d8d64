#include "load/integrity.h"

#include <cstring>

namespace ple::rt {

bool FindTrailer(const uint8_t* file, size_t size, IntegrityTrailer* out) {
  if (size < sizeof(IntegrityTrailer)) return false;
  const uint8_t* at = file + size - sizeof(IntegrityTrailer);
  if (std::memcmp(at, kTrailerMagic, sizeof kTrailerMagic) != 0) return false;
  std::memcpy(out, at, sizeof *out);  // little-endian hosts only, as the FlatBuffer itself
  return true;
}

Status CheckIntegrity(const uint8_t* file, size_t size, const IntegrityRequest& request) {
  if (request.expected_sha256 != nullptr) {
    const Sha256Digest digest = Sha256Of(file, size);
    if (std::memcmp(digest.data(), request.expected_sha256, digest.size()) != 0) {
      return MakeError(PLE_ERROR_INTEGRITY, "the file's SHA-256 is %s, not the pinned %s",
                       HexOf(digest.data(), digest.size()).c_str(), HexOf(request.expected_sha256, 32).c_str());
    }
  }
  if (!request.verify_checksum && request.public_key == nullptr) return Status::Ok();
  IntegrityTrailer trailer;
  if (!FindTrailer(file, size, &trailer)) {
    return MakeError(PLE_ERROR_INTEGRITY,
                     "the file has no integrity trailer (written before trailers existed, or cut short)");
  }
  // The trailer's own fields: the digest does not cover them.
  bool zero_signature = true;
  for (uint8_t b : trailer.signature) zero_signature = zero_signature && b == 0;
  if ((trailer.flags & ~kTrailerSigned) != 0 || trailer.reserved != 0 ||
      zero_signature != ((trailer.flags & kTrailerSigned) == 0)) {
    return MakeError(PLE_ERROR_INTEGRITY, "the integrity trailer is corrupted (flags 0x%x, reserved 0x%x, %s signature)",
                     trailer.flags, trailer.reserved, zero_signature ? "an empty" : "a");
  }
  const Sha256Digest digest = Sha256Of(file, size - sizeof trailer);
  if (std::memcmp(digest.data(), trailer.sha256, digest.size()) != 0) {
    return MakeError(PLE_ERROR_INTEGRITY, "checksum mismatch: the file's data hashes to %s, its trailer says %s",
                     HexOf(digest.data(), digest.size()).c_str(), HexOf(trailer.sha256, 32).c_str());
  }
  if (request.public_key != nullptr) {
    if (!Ed25519Available()) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "signature checks need a runtime built with libsodium (-DPLE_SODIUM=ON)");
    }
    if ((trailer.flags & kTrailerSigned) == 0) {
      return MakeError(PLE_ERROR_INTEGRITY, "the file is not signed, and a signature by a public key was required");
    }
    if (!Ed25519Verify(trailer.signature, trailer.sha256, sizeof trailer.sha256, request.public_key)) {
      return MakeError(PLE_ERROR_INTEGRITY, "the file's signature does not verify with the given public key");
    }
  }
  return Status::Ok();
}

Status AppendTrailer(std::vector<uint8_t>* file, const uint8_t* secret_key) {
  IntegrityTrailer trailer{};
  std::memcpy(trailer.magic, kTrailerMagic, sizeof kTrailerMagic);
  const Sha256Digest digest = Sha256Of(file->data(), file->size());
  std::memcpy(trailer.sha256, digest.data(), digest.size());
  if (secret_key != nullptr) {
    if (!Ed25519Available()) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "signing needs a build with libsodium (-DPLE_SODIUM=ON)");
    }
    if (!Ed25519Sign(trailer.signature, trailer.sha256, sizeof trailer.sha256, secret_key)) {
      return MakeError(PLE_ERROR_INTERNAL, "Ed25519 signing failed");
    }
    trailer.flags |= kTrailerSigned;
  }
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&trailer);
  file->insert(file->end(), bytes, bytes + sizeof trailer);
  return Status::Ok();
}

}  // namespace ple::rt
