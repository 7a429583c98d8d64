// The kernel tests' main: Catch2's, after one check. ctest runs the path-dependent tests once
// per kernel path built into the library (PLE_TEST_KERNEL_PATHS=<name>, tests/CMakeLists.txt);
// a path this CPU cannot run (avx512 under qemu -cpu Haswell, neondot on a Cortex-A53) prints
// "SKIPPED: ..." and exits 0, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>

#include "gemm_tester.h"

int main(int argc, char* argv[]) {
  const std::string unavailable = ple::test::RequestedPathsNotRunnable();
  if (!unavailable.empty()) {
    std::printf("SKIPPED: kernel path %s cannot run here (this CPU lacks its instructions)\n", unavailable.c_str());
    return 0;
  }
  return Catch::Session().run(argc, argv);
}
