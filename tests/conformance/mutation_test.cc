// The bundles catch real bugs: each deliberate mistake (convert::Mutation) makes at least one
// bundle fail its tolerance, while the unmutated bundles all pass.
#include <catch2/catch.hpp>

#include "conformance.h"
#include "test_util.h"

using ple::convert::Mutation;

namespace {

struct MutationCase {
  Mutation mutation;
  const char* name;
};

}  // namespace

TEST_CASE("mutation test: every deliberate bug fails at least one bundle", "[conformance][mutation]") {
  const MutationCase cases[] = {
      {Mutation::kDropBatchNorm, "dropping BatchNorm"},
      {Mutation::kBatchNormEps1e3, "BatchNorm eps 1e-3 instead of 1e-5"},
      {Mutation::kSwapExpertOrder, "swapping the expert order in gates"},
      {Mutation::kDropGateBias, "dropping the gate bias"},
      {Mutation::kUseLastLevelSharedGate, "using a last-level shared gate"},
  };
  for (const auto& bundle : ple::test::BundleNames()) {
    INFO("bundle " << bundle);
    CHECK(ple::conformance::RunBundle(ple::test::BundlePath(bundle), PLE_KERNELS_REFERENCE).passed());
  }
  for (const MutationCase& c : cases) {
    std::string caught_by, not_applicable;
    for (const auto& bundle : ple::test::BundleNames()) {
      ple::conformance::BundleRunOptions options;
      options.import.mutation = c.mutation;
      try {
        const auto report = ple::conformance::RunBundle(ple::test::BundlePath(bundle), PLE_KERNELS_REFERENCE, options);
        if (!report.passed()) caught_by += " " + bundle;
      } catch (const std::exception&) {
        not_applicable += " " + bundle;  // e.g. no last-level shared gate weights to misuse
      }
    }
    INFO("mutation: " << c.name << "; failing bundles:" << caught_by << "; not applicable:" << not_applicable);
    CHECK_FALSE(caught_by.empty());
    WARN("mutation '" << c.name << "' caught by:" << caught_by);
  }
}
