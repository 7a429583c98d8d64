// Conformance bundles (docs/bundle-format.md): load a bundle, convert it, run it on a kernel
// path and compare every output (and every recorded gate) with the expected values.
#ifndef PLE_TOOLS_CONFORMANCE_H_
#define PLE_TOOLS_CONFORMANCE_H_

#include <cmath>
#include <string>
#include <vector>

#include "feature_columns.h"
#include "load/model.h"
#include "native_importer.h"
#include "quantize.h"
#include "ple/ple.hpp"

namespace ple {
namespace conformance {

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
  // Quantized runs: the absolute tolerance is at least this fraction of the compared column's
  // mean |expected| (regression outputs and scores have no natural scale), and the mean
  // absolute error is bounded too (infinity: not checked).
  double atol_of_mean = 0.0;
  double mean_atol = INFINITY;
  // |got - expected| <= atol or |got - expected| <= rtol * |expected|.
  bool Accepts(double got, double expected) const;
};

// The accuracy bars of quantized models (docs/quantization.md, where they are measured),
// against the bundle's float64 reference, on every bundle and kernel path:
//   probabilities (binary tasks, gate weights): float16 max 5e-3, mean 5e-4; int8 max 8e-2,
//   mean 1.25e-2. The bundles' weights are chosen to amplify every error, and rounding the
//   weights alone (an independent numpy simulation) already exceeds 1e-3 (float16) and
//   1e-2 / 2e-3 (int8) on some of them: these bars are the measured worst case with a margin;
//   regression outputs and scores: within a fraction of max(|expected|, the column's mean
//   |expected|): float16 5e-3, int8 0.15.
Tolerance QuantizedProbabilityTolerance(bool int8);
Tolerance QuantizedValueTolerance(bool int8);

struct Comparison {
  std::string name;        // "task click" or "levels.0.task_gates.1"
  size_t values = 0;       // values compared
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |got - expected| / |expected| (expected 0: the absolute error)
  double mean_abs_error = 0.0;
  bool mean_failed = false;    // mean_abs_error above the tolerance's mean_atol
  double tolerance_used = 0.0; // max of |got - expected| / max(atol, rtol * |expected|); > 1 fails
  size_t failures = 0;     // values outside the tolerance
  size_t worst_index = 0;  // flat index of the largest violation (or largest error)
  bool passed() const { return failures == 0 && !mean_failed; }
};

struct BundleReport {
  std::string bundle;               // bundle name
  std::string kernel_path;          // "reference", "xnnpack"
  std::string precision = "f32";    // "f32", or "int8" / "f16" when the model holds quantized weights
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
  std::vector<float> gate_values;    // every computed gate's weights, candidates x experts, gate after gate
  bool passed() const;
};

struct BundleRunOptions {
  convert::ImportOptions import;      // a deliberate bug, for the mutation test
  convert::PrecisionPlan precision;   // how the bundle is converted (float32 by default)
  std::string model_path;             // read this model file instead of converting (e.g. one a
                                      // native build converted, for an emulated run)
  uint32_t num_threads = 1;           // the session's threads
};

// "int8" when any layer or table is int8, else "f16" when any layer is, else "f32".
std::string WeightPrecision(const rt::LoadedModel& model);

// The model file RunBundle converts from the bundle (options.import and options.precision).
std::vector<uint8_t> ConvertBundleModel(const std::string& directory, const BundleRunOptions& options = {});

// Loads the bundle in `directory`, converts it (or reads options.model_path), runs it on
// `kernel_path` and compares: float32 models with the bundle's tolerance, quantized ones with
// the quantized accuracy bar. Throws std::runtime_error for an unreadable or malformed bundle
// or a failed conversion or run.
BundleReport RunBundle(const std::string& directory, ple_kernel_path kernel_path,
                       const BundleRunOptions& options = {});

// A bundle's inputs as columns of `model` (docs/bundle-format.md): every candidate shares row
// 0's request-scope values. Throws std::runtime_error for a malformed bundle.
struct BundleInputs {
  std::vector<tools::FeatureColumn> columns;
  size_t candidates = 0;
};
BundleInputs ReadBundleInputs(const std::string& directory, const ple::Model& model);

// Human-readable report lines.
std::string FormatReport(const BundleReport& report);

const char* KernelPathName(ple_kernel_path path);

}  // namespace conformance
}  // namespace ple

#endif  // PLE_TOOLS_CONFORMANCE_H_
