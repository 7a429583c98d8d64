// Conformance bundles (docs/bundle-format.md): load a bundle, convert it, run it on a kernel
// path and compare every output (and every recorded gate) with the expected values.
#ifndef PLE_TOOLS_CONFORMANCE_H_
#define PLE_TOOLS_CONFORMANCE_H_

#include <string>
#include <vector>

#include "native_importer.h"
#include "ple/ple.h"

namespace ple {
namespace conformance {

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
  // |got - expected| <= atol or |got - expected| <= rtol * |expected|.
  bool Accepts(double got, double expected) const;
};

// One compared quantity: a task's outputs or one gate's weights.
struct Comparison {
  std::string name;        // "task click" or "levels.0.task_gates.1"
  size_t values = 0;       // values compared
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |got - expected| / |expected| (expected 0: the absolute error)
  double tolerance_used = 0.0; // max of |got - expected| / max(atol, rtol * |expected|); > 1 fails
  size_t failures = 0;     // values outside the tolerance
  size_t worst_index = 0;  // flat index of the largest violation (or largest error)
  bool passed() const { return failures == 0; }
};

struct BundleReport {
  std::string bundle;               // bundle name
  std::string kernel_path;          // "reference", "xnnpack"
  size_t candidates = 0;
  std::vector<Comparison> tasks;
  std::vector<Comparison> scores;   // one entry when the bundle has expected scores
  std::vector<Comparison> gates;    // intermediates present in the bundle and computed
  std::vector<std::string> gates_not_computed;  // present in the bundle, pruned from the plan
  // Dense-only models are also run with every row bringing its own request values
  // (ple_session_run): the outputs must equal the request-context run's bit for bit.
  bool per_row_checked = false;
  bool per_row_identical = true;
  std::vector<float> output_values;  // the run's outputs, candidates x tasks
  std::vector<float> score_values;   // and scores, when the bundle has expected scores
  bool passed() const;
};

// Loads the bundle in `directory`, converts it (with a deliberate bug when `options` asks for
// one: the mutation test) or reads `model_path` when given (a model file converted elsewhere,
// e.g. by a native build for an emulated one), runs it on `kernel_path` and compares. Throws
// std::runtime_error for an unreadable or malformed bundle or a failed conversion or run.
BundleReport RunBundle(const std::string& directory, ple_kernel_path kernel_path,
                       const convert::ImportOptions& options = {}, const std::string& model_path = "");

// Human-readable report lines.
std::string FormatReport(const BundleReport& report);

const char* KernelPathName(ple_kernel_path path);

}  // namespace conformance
}  // namespace ple

#endif  // PLE_TOOLS_CONFORMANCE_H_
