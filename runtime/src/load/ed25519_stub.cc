// Builds without libsodium: no Ed25519 (signature checks answer PLE_ERROR_UNSUPPORTED).
#include "load/integrity.h"

namespace ple::rt {

bool Ed25519Available() { return false; }
bool Ed25519Verify(const uint8_t*, const uint8_t*, size_t, const uint8_t*) { return false; }
bool Ed25519Sign(uint8_t*, const uint8_t*, size_t, const uint8_t*) { return false; }
bool Ed25519KeyPair(uint8_t*, uint8_t*) { return false; }

}  // namespace ple::rt
