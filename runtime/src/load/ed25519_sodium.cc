// Ed25519 through Debian's libsodium (builds with -DPLE_SODIUM=ON).
#include <sodium.h>

#include "load/integrity.h"

namespace ple::rt {
namespace {
static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicKeyBytes && crypto_sign_SECRETKEYBYTES == kEd25519SecretKeyBytes &&
                  crypto_sign_BYTES == kEd25519SignatureBytes,
              "the trailer and the key files use libsodium's Ed25519 sizes");

bool Ready() {
  static const bool ready = sodium_init() >= 0;  // thread-safe, idempotent
  return ready;
}

}  // namespace

bool Ed25519Available() { return Ready(); }

bool Ed25519Verify(const uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* public_key) {
  return Ready() && crypto_sign_verify_detached(signature, message, size, public_key) == 0;
}

bool Ed25519Sign(uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* secret_key) {
  return Ready() && crypto_sign_detached(signature, nullptr, message, size, secret_key) == 0;
}

bool Ed25519KeyPair(uint8_t* public_key, uint8_t* secret_key) {
  return Ready() && crypto_sign_keypair(public_key, secret_key) == 0;
}

}  // namespace ple::rt
