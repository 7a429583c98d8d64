// Which kernel path AUTO takes on this CPU, and what asking for a path it lacks does. The
// expected path comes from outside the library: tools/test.sh names it for each qemu CPU model
// (PLE_TEST_EXPECTED_AUTO_PATH: cortex-a53 neon, cortex-a76 neondot, max neoni8mm; Haswell
// avx2); without it only the library's own consistency is checked.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ple/ple.h"
#include "test_util.h"

namespace {

std::string Int8Golden() { return ple::test::SourcePath("tests/golden/v6-feed-ranker-int8features.ple"); }

ple_session* Create(ple_model* model, ple_kernel_path path, ple_status* status) {
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = 8;
  options.kernel_path = path;
  ple_session* session = nullptr;
  *status = ple_session_create(model, &options, &session);
  return session;
}

}  // namespace

TEST_CASE("kernel dispatch: AUTO is the fastest path this CPU has, and a missing path is refused", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(Int8Golden().c_str(), &model) == PLE_OK);
  ple_status status;
  ple_session* session = Create(model, PLE_KERNELS_AUTO, &status);
  REQUIRE(status == PLE_OK);
  ple_session_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  REQUIRE(ple_session_get_info(session, &info) == PLE_OK);
  const std::string chosen = ple_kernel_path_name(info.kernel_path);
  INFO("AUTO chose " << chosen);
  CHECK(ple_kernel_path_available(info.kernel_path) == 1);
  const char* expected = std::getenv("PLE_TEST_EXPECTED_AUTO_PATH");
  if (expected != nullptr && std::getenv("PLE_KERNELS") == nullptr) CHECK(chosen == expected);
  // The i8mm path reads the model's paired copy of the int8 weights, reported as the path's own.
  if (info.kernel_path == PLE_KERNELS_ARM_NEON_I8MM) {
    CHECK(info.packed_weight_bytes > 0);
  } else if (info.kernel_path != PLE_KERNELS_XNNPACK) {
    CHECK(info.packed_weight_bytes == 0);
  }
  ple_session_close(&session);

  ple_kernel_path i8mm;
  REQUIRE(ple_kernel_path_from_name("neoni8mm", &i8mm) == PLE_OK);
  CHECK(i8mm == PLE_KERNELS_ARM_NEON_I8MM);
  session = Create(model, PLE_KERNELS_ARM_NEON_I8MM, &status);
  if (ple_kernel_path_available(PLE_KERNELS_ARM_NEON_I8MM)) {
    CHECK(status == PLE_OK);
  } else {  // not built here, or this CPU lacks i8mm: an error, never an illegal instruction
    CHECK(status == PLE_ERROR_UNSUPPORTED);
    CHECK_THAT(ple_last_error(), Catch::Contains("neoni8mm"));
  }
  ple_session_close(&session);

  // PLE_KERNELS=neoni8mm makes AUTO ask for it: the same answer.
  const char* before = std::getenv("PLE_KERNELS");
  const std::string saved = before != nullptr ? before : "";
  setenv("PLE_KERNELS", "neoni8mm", 1);
  session = Create(model, PLE_KERNELS_AUTO, &status);
  if (ple_kernel_path_available(PLE_KERNELS_ARM_NEON_I8MM)) {
    REQUIRE(status == PLE_OK);
    REQUIRE(ple_session_get_info(session, &info) == PLE_OK);
    CHECK(info.kernel_path == PLE_KERNELS_ARM_NEON_I8MM);
  } else {
    CHECK(status == PLE_ERROR_UNSUPPORTED);
  }
  ple_session_close(&session);
  if (before != nullptr) {
    setenv("PLE_KERNELS", saved.c_str(), 1);
  } else {
    unsetenv("PLE_KERNELS");
  }
  ple_model_close(&model);
}
