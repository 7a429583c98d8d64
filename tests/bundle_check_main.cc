// bundle_check BUNDLE_DIR MODEL.ple [--record FILE | --compare FILE | --compare-exact FILE]
// Runs a conformance bundle on a model file converted beforehand (by the native build's
// ple-convert, so emulated and cross builds read files written on the build machine), on every
// kernel path built here, and prints the report. --record writes the reference path's outputs
// and scores (raw float32); --compare checks this platform's reference path against such a
// recording within the bundle's tolerance (float32 results agree across platforms);
// --compare-exact checks every path's bytes against it (files whose every layer is int8 give
// bit-identical results on every path and platform, docs/determinism.md). Exit 0 when all pass.
// A trailing --identity-only (with --record or --compare-exact) drops the accuracy bar and checks
// only that every path gives the same bytes: for narrow int8 files, whose accuracy cost is
// measured, not barred (docs/quantization.md, "Narrow int8 weights").
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>

#include "conformance.h"
#include "kernels/kernel_set.h"

namespace {

std::vector<float> Values(const ple::conformance::BundleReport& report) {
  std::vector<float> values = report.output_values;
  values.insert(values.end(), report.score_values.begin(), report.score_values.end());
  return values;
}

// 0: agrees with the recording; 1: does not; 2: cannot read it.
int Compare(const std::string& path, const std::vector<float>& values, const std::string& bundle, bool exact,
            const char* kernel_path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bundle_check: cannot read the recording '%s'\n", path.c_str());
    return 2;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != values.size() * sizeof(float)) {
    std::fprintf(stderr, "bundle_check: '%s' holds %zu values, this run gave %zu\n", path.c_str(),
                 bytes.size() / sizeof(float), values.size());
    return 1;
  }
  std::vector<float> recorded(values.size());
  std::memcpy(recorded.data(), bytes.data(), bytes.size());
  ple::conformance::Tolerance tolerance;  // the bundles' tolerance (rtol 1e-5, atol 1e-6)
  size_t differing = 0, identical = 0;
  double worst = 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    identical += std::memcmp(&values[i], &recorded[i], sizeof(float)) == 0;
    worst = std::max(worst, std::fabs(static_cast<double>(values[i]) - recorded[i]));
    differing += tolerance.Accepts(values[i], recorded[i]) ? 0 : 1;
  }
  if (exact) differing = values.size() - identical;
  std::printf("%s [%s]: against the build machine's outputs: %zu of %zu values bit-identical, max abs difference "
              "%.3e, %s\n",
              bundle.c_str(), kernel_path, identical, values.size(), worst,
              differing ? "FAIL" : exact ? "bit-identical" : "within the tolerance");
  return differing ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool identity_only = argc == 6 && std::string(argv[5]) == "--identity-only";
  if ((argc != 3 && argc != 5 && argc != 6) || (argc == 6 && !identity_only)) {
    std::fprintf(stderr,
                 "usage: %s BUNDLE_DIR MODEL.ple [--record FILE | --compare FILE | --compare-exact FILE] "
                 "[--identity-only]\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argc >= 5 ? argv[3] : "", recording = argc >= 5 ? argv[4] : "";
  if (!mode.empty() && mode != "--record" && mode != "--compare" && mode != "--compare-exact") {
    std::fprintf(stderr, "bundle_check: unknown option '%s'\n", mode.c_str());
    return 2;
  }
  if (identity_only && mode == "--compare") {
    std::fprintf(stderr, "bundle_check: --identity-only goes with --record or --compare-exact\n");
    return 2;
  }
  int failed = 0;
  ple::conformance::BundleRunOptions options;
  options.model_path = argv[2];
  std::vector<float> reference_values;  // --identity-only: every path's bytes against the reference path's
  for (ple_kernel_path path : ple::rt::AvailableKernelPaths()) {
    try {
      const auto report = ple::conformance::RunBundle(argv[1], path, options);
      std::fputs(ple::conformance::FormatReport(report).c_str(), stdout);
      if (!identity_only) failed += report.passed() ? 0 : 1;
      const std::vector<float> values = Values(report);
      if (identity_only) {
        if (path == PLE_KERNELS_REFERENCE) reference_values = values;
        const bool same = values.size() == reference_values.size() &&
                          std::memcmp(values.data(), reference_values.data(), values.size() * sizeof(float)) == 0;
        std::printf("%s [%s]: %s the reference path's bytes (accuracy bar not applied)\n", report.bundle.c_str(),
                    ple::conformance::KernelPathName(path), same ? "bit-identical to" : "FAIL: differs from");
        failed += same ? 0 : 1;
      }
      const bool exact = mode == "--compare-exact";
      if (mode.empty() || (path != PLE_KERNELS_REFERENCE && !exact)) continue;
      if (mode == "--record") {
        if (path != PLE_KERNELS_REFERENCE) continue;
        std::ofstream out(recording, std::ios::binary);
        out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
        if (!out) {
          std::fprintf(stderr, "bundle_check: cannot write '%s'\n", recording.c_str());
          return 2;
        }
      } else {
        const int compared = Compare(recording, values, report.bundle, exact, ple::conformance::KernelPathName(path));
        if (compared == 2) return 2;
        failed += compared;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bundle_check: %s [%s]: error: %s\n", argv[1], ple::conformance::KernelPathName(path),
                   e.what());
      return 2;
    }
  }
  return failed ? 1 : 0;
}
