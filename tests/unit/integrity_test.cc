// Integrity and authenticity (docs/file-format.md, "Integrity trailer"): SHA-256 against the
// standard's vectors, the converter's trailer and byte-identical output, checksum, pinned
// digest and signature checks at load, and every byte of three real files flipped in turn.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "load/integrity.h"
#include "model_writer.h"
#include "ple/ple.h"
#include "load/sha256.h"
#include "test_util.h"

using ple::test::AlignedBuffer;

namespace {

std::string HexSha256(const std::string& text) {
  const auto digest = ple::rt::Sha256Of(text.data(), text.size());
  return ple::rt::HexOf(digest.data(), digest.size());
}

ple_status Open(const std::vector<uint8_t>& bytes, const ple_model_open_options* options, std::string* message = nullptr) {
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  const ple_status status = ple_model_open_buffer_with_options(buffer.data(), buffer.size(), options, &model);
  if (message != nullptr) *message = status == PLE_OK ? "" : ple_last_error();
  ple_model_close(&model);
  return status;
}

ple_model_open_options VerifyOptions() {
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  options.verify_checksum = 1;
  return options;
}

// Three real model files: float32, int8, and one with embedding tables (int8).
std::vector<std::pair<std::string, std::vector<uint8_t>>> RealFiles() {
  const auto int8 = ple::convert::PrecisionPlan::ForName("int8");
  return {{"mmoe f32", ple::test::ConvertBundle("mmoe").bytes},
          {"ple2_unequal int8", ple::test::ConvertBundle("ple2_unequal", {}, int8).bytes},
          {"features_mixed int8 (embeddings)", ple::test::ConvertBundle("features_mixed", {}, int8).bytes}};
}

}  // namespace

TEST_CASE("integrity: SHA-256 gives the FIPS 180-4 example digests, in any chunking", "[integrity]") {
  CHECK(HexSha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HexSha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(HexSha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(HexSha256(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  for (size_t chunk : {1, 3, 55, 56, 63, 64, 65, 1000}) {
    ple::rt::Sha256 hash;
    for (size_t at = 0; at < million.size(); at += chunk) hash.Update(million.data() + at, std::min(chunk, million.size() - at));
    const auto digest = hash.Finish();
    CHECK(ple::rt::HexOf(digest.data(), digest.size()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("integrity: the converter's output is byte-identical for identical inputs, and carries its checksum",
          "[integrity]") {
  const auto int8 = ple::convert::PrecisionPlan::ForName("int8");
  for (const char* name : {"mmoe", "features_mixed", "ple2_unequal"}) {
    INFO(name);
    const auto first = ple::test::ConvertBundle(name, {}, int8).bytes;
    CHECK(ple::test::ConvertBundle(name, {}, int8).bytes == first);
    ple::rt::IntegrityTrailer trailer;
    REQUIRE(ple::rt::FindTrailer(first.data(), first.size(), &trailer));
    CHECK(trailer.flags == 0);
    const auto digest = ple::rt::Sha256Of(first.data(), first.size() - sizeof trailer);
    CHECK(std::memcmp(digest.data(), trailer.sha256, 32) == 0);
    const auto options = VerifyOptions();
    CHECK(Open(first, &options) == PLE_OK);
  }
}

TEST_CASE("integrity: a pinned SHA-256 must match the whole file", "[integrity]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  const auto digest = ple::rt::Sha256Of(bytes.data(), bytes.size());
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  options.expected_sha256 = digest.data();
  CHECK(Open(bytes, &options) == PLE_OK);
  auto wrong = digest;
  wrong[31] ^= 1;
  options.expected_sha256 = wrong.data();
  std::string message;
  CHECK(Open(bytes, &options, &message) == PLE_ERROR_INTEGRITY);
  CHECK_THAT(message, Catch::Contains("SHA-256 is " + ple::rt::HexOf(digest.data(), 32)) &&
                          Catch::Contains("not the pinned " + ple::rt::HexOf(wrong.data(), 32)));
}

TEST_CASE("integrity: files without a trailer load, unless a check is asked for", "[integrity]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  const std::vector<uint8_t> bare(bytes.begin(), bytes.end() - sizeof(ple::rt::IntegrityTrailer));
  CHECK(Open(bare, nullptr) == PLE_OK);  // as files written before trailers existed
  const auto options = VerifyOptions();
  std::string message;
  CHECK(Open(bare, &options, &message) == PLE_ERROR_INTEGRITY);
  CHECK_THAT(message, Catch::Contains("no integrity trailer"));
  ple_model_open_options old_struct = options;
  old_struct.struct_size = 4;
  CHECK(Open(bytes, &old_struct, &message) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(message, Catch::Contains("ple_model_open_options_init"));
}

TEST_CASE("integrity: Ed25519 signatures are checked against the app's public key", "[integrity]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  uint8_t public_key[32] = {}, secret_key[64] = {};
  if (!ple::rt::Ed25519Available()) {
    options.public_key = public_key;
    std::string message;
    CHECK(Open(bytes, &options, &message) == PLE_ERROR_UNSUPPORTED);
    CHECK_THAT(message, Catch::Contains("libsodium"));
    CHECK_THROWS_WITH(ple::convert::SignModel(bytes, std::vector<uint8_t>(64)), Catch::Contains("libsodium"));
    return;
  }
  REQUIRE(ple::rt::Ed25519KeyPair(public_key, secret_key));
  const auto signed_file = ple::convert::SignModel(bytes, std::vector<uint8_t>(secret_key, secret_key + 64));
  CHECK(ple::convert::SignModel(bytes, std::vector<uint8_t>(secret_key, secret_key + 64)) == signed_file);  // deterministic
  CHECK(signed_file.size() == bytes.size());
  options.public_key = public_key;
  CHECK(Open(signed_file, &options) == PLE_OK);
  std::string message;
  CHECK(Open(bytes, &options, &message) == PLE_ERROR_INTEGRITY);
  CHECK_THAT(message, Catch::Contains("not signed"));
  uint8_t other_public[32], other_secret[64];
  REQUIRE(ple::rt::Ed25519KeyPair(other_public, other_secret));
  options.public_key = other_public;
  CHECK(Open(signed_file, &options, &message) == PLE_ERROR_INTEGRITY);
  CHECK_THAT(message, Catch::Contains("does not verify"));
  auto forged = signed_file;  // the data changed and its checksum recomputed: the signature no longer fits
  forged[100] ^= 1;
  const auto digest = ple::rt::Sha256Of(forged.data(), forged.size() - 112);
  std::memcpy(forged.data() + forged.size() - 112 + 16, digest.data(), 32);
  options.public_key = public_key;
  CHECK(Open(forged, &options, &message) == PLE_ERROR_INTEGRITY);
  CHECK_THAT(message, Catch::Contains("does not verify"));
}

TEST_CASE("integrity: every byte flipped in turn is rejected with checks on, and breaks nothing without them",
          "[integrity][slow]") {
  // Every byte natively and under the sanitizers; under emulation (PLE_TEST_EMULATED, set by
  // tools/test.sh for qemu) every 5th byte and the whole trailer: 100 s per CPU otherwise.
  const char* emulated = std::getenv("PLE_TEST_EMULATED");
  const size_t stride = emulated != nullptr && std::string(emulated) == "1" ? 5 : 1;
  const auto checked = VerifyOptions();
  for (const auto& [name, bytes] : RealFiles()) {
    INFO(name << ", " << bytes.size() << " bytes, every " << stride << " byte(s)");
    size_t loaded = 0, refused = 0, run_errors = 0;
    for (size_t i = 0; i < bytes.size(); i += (i + 112 >= bytes.size() ? 1 : stride)) {
      auto corrupted = bytes;
      corrupted[i] ^= static_cast<uint8_t>(1u << (i % 8));
      AlignedBuffer buffer(corrupted);
      ple_model* model = nullptr;
      const ple_status verified = ple_model_open_buffer_with_options(buffer.data(), buffer.size(), &checked, &model);
      ple_model_close(&model);
      if (verified != PLE_ERROR_INTEGRITY) FAIL("flip at byte " << i << " was not rejected: status " << verified);
      if (ple_model_open_buffer(buffer.data(), buffer.size(), &model) != PLE_OK) {
        ++refused;
        continue;
      }
      ++loaded;
      ple_session_options options;
      ple_session_options_init(&options);
      options.max_batch = 2;
      ple_session* session = nullptr;
      if (ple_session_create(model, &options, &session) == PLE_OK) {
        // Candidates from the bundle's own kind of inputs: dense rows, or every feature with valid values.
        const size_t tasks = ple_model_num_tasks(model);
        std::vector<float> outputs(2 * tasks, 0.0f);
        const ple_status ran = ple::test::RunWithValidInputs(model, session, 2, outputs.data());
        if (ran == PLE_OK) {
          for (float v : outputs) {
            if (!std::isfinite(v)) FAIL("flip at byte " << i << ": a run succeeded with a non-finite output");
          }
        } else {
          ++run_errors;
        }
      }
      ple_session_close(&session);
      ple_model_close(&model);
    }
    INFO("loaded " << loaded << ", refused " << refused << ", run errors " << run_errors);
    CHECK(refused > 0);
    CHECK(loaded > 0);  // flips inside weight data go unnoticed without the checksum
  }
}
