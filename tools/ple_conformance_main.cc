// ple-conformance: converts and runs conformance bundles, reports per task the max absolute
// and relative error against the bundle's expected outputs, exits 0 only if all pass.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "conformance.h"
#include "kernels/kernel_set.h"
#include "version_text.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ple-conformance: check the runtime against conformance bundles (docs/bundle-format.md).\n"
      "Each bundle is converted, run on each selected kernel path and compared with its expected\n"
      "outputs (and gate weights, when the bundle has them). Exit status: 0 all passed, 1 a\n"
      "comparison failed, 2 a bundle could not be read, converted or run."};
  std::vector<std::string> bundles;
  std::string kernels = "all", precision = "f32";
  bool quiet = false;
  app.add_option("bundles", bundles, "bundle directories")->required()->check(CLI::ExistingDirectory);
  app.add_option("--kernels,-k", kernels,
                 "kernel paths: all (every path available here, the default) or one path by name (reference, "
                 "xnnpack, avx2, avx512, avx512vnni, avxvnni, neon, neondot, neoni8mm, wasmsimd)");
  app.add_option("--precision,-p", precision,
                 "convert each bundle as f32 (default, held to the bundle's tolerance), f16 or int8 (the default "
                 "int8 mix of docs/quantization.md), held to the quantized accuracy bar; per-class overrides "
                 "follow, e.g. int8,towers=f16 (classes: embeddings, experts, gates, towers, heads)")
      ;
  app.add_flag("--quiet,-q", quiet, "print failures and the summary only");
  app.set_version_flag("--version", ple::tools::VersionText("ple-conformance"));
  CLI11_PARSE(app, argc, argv);
  ple::convert::PrecisionPlan precision_plan;
  try {
    precision_plan = ple::convert::PrecisionPlan::Parse(precision);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-conformance: error: %s\n", e.what());
    return 2;
  }

  std::vector<ple_kernel_path> paths;
  if (kernels == "all") {
    paths = ple::rt::AvailableKernelPaths();
  } else {
    ple_kernel_path path;
    if (ple_kernel_path_from_name(kernels.c_str(), &path) != PLE_OK || path == PLE_KERNELS_AUTO) {
      std::fprintf(stderr, "ple-conformance: error: '%s' is not a kernel path\n", kernels.c_str());
      return 2;
    }
    if (!ple_kernel_path_available(path)) {
      std::fprintf(stderr, "ple-conformance: error: kernel path %s is not available in this build or on this CPU\n",
                   kernels.c_str());
      return 2;
    }
    paths.push_back(path);
  }
  int passed = 0, failed = 0, errors = 0;
  for (const std::string& bundle : bundles) {
    for (ple_kernel_path path : paths) {
      try {
        ple::conformance::BundleRunOptions options;
        options.precision = precision_plan;
        const auto report = ple::conformance::RunBundle(bundle, path, options);
        if (!quiet || !report.passed()) std::fputs(ple::conformance::FormatReport(report).c_str(), stdout);
        (report.passed() ? passed : failed) += 1;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ple-conformance: %s [%s]: error: %s\n", bundle.c_str(),
                     ple::conformance::KernelPathName(path), e.what());
        ++errors;
      }
    }
  }
  std::printf("ple-conformance: %d passed, %d failed, %d errors (%zu bundles x %zu kernel paths)\n", passed, failed,
              errors, bundles.size(), paths.size());
  return errors ? 2 : failed ? 1 : 0;
}
