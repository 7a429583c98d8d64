// The diagnostics report's numbers (docs/diagnostics.md): a model run over data, with per
// gate and expert the statistics of the softmax weights (the PLE paper's expert-utilisation
// figure), warnings for collapsed gates and unused experts, the model's structure, and, given
// the float32 conversion of a quantized model, the error of every layer and task output.
// html_report.h draws it.
#ifndef PLE_TOOLS_ACTIVITY_REPORT_H_
#define PLE_TOOLS_ACTIVITY_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ple/ple.hpp"
#include "quantization_report.h"

namespace ple {
namespace tools {

// A gate weight above this takes (nearly) all of the gate; below the other, it is unused.
constexpr double kCollapsedWeight = 0.99;
constexpr double kUnusedWeight = 0.01;
// A gate is collapsed when more than this share of candidates give one expert > kCollapsedWeight.
constexpr double kCollapsedShare = 0.5;

// One dense layer (an MLP's), named by its place in the model.
struct LayerShape {
  std::string name;        // "level 1 expert 0 layer 2", "tower click layer 3 (head)"
  uint32_t in = 0, out = 0;
  std::string precision;   // "f32", "f16", "int8"
  std::string activation;  // "relu", "" for none
};

struct ExpertShape {
  uint32_t input_stream = 0;  // a task's, or num_tasks (shared)
  std::vector<uint32_t> widths;  // input width, then every layer's output width
  uint64_t parameters = 0;
};

struct GateShape {
  uint32_t input_stream = 0, output_stream = 0;
  std::vector<uint32_t> experts;  // indices into the level's experts, softmax order
  std::vector<uint32_t> widths;   // as ExpertShape (empty: one expert, weight 1)
  uint64_t parameters = 0;
};

struct TowerShape {
  std::vector<uint32_t> widths;
  uint64_t parameters = 0;
};

struct ModelShape {
  std::string name;
  std::vector<TaskInfo> tasks;
  size_t input_width = 0;               // the assembled input row's floats
  std::vector<std::string> features;    // "user_id (sparse, request)"
  std::vector<std::vector<ExpertShape>> level_experts;
  std::vector<std::vector<GateShape>> level_gates;
  std::vector<TowerShape> towers;       // one per task
  std::string score;                    // "click^1 * share^0.5 * f(video_len), f = log1p", or ""
  uint64_t parameters = 0;
  size_t file_bytes = 0;
  std::string precision;                // "f32", "f16", "int8" (any int8 layer), as ple-conformance says
  // The stream's name: "task <name>" or "shared".
  std::string StreamName(uint32_t stream) const;
};

// Statistics of one expert's weight under one gate, over every candidate.
struct ExpertWeightStats {
  uint32_t expert = 0;              // index into the level's experts
  double mean = 0.0, stddev = 0.0;
  double p10 = 0.0, p90 = 0.0;      // percentiles, to within 1/kHistogramBins
  double min = 0.0, max = 0.0;
  double share_collapsed = 0.0;     // candidates where the weight > kCollapsedWeight
};

struct GateActivity {
  uint32_t level = 0, gate = 0;     // 0-based
  std::string name;                 // "task click" or "shared": the stream it writes
  bool computed = true;             // false: no task output depends on it (never run)
  std::vector<ExpertWeightStats> experts;  // softmax order
  double share_collapsed = 0.0;     // candidates where one expert takes > kCollapsedWeight
};

// One layer's quantized output against the float32 model's, over every candidate.
struct LayerError {
  std::string name;
  std::string precision;            // of the quantized model's layer
  size_t values = 0;
  double relative_l2 = 0.0;         // ||q - f|| / ||f||
  double cosine = 1.0;              // <q, f> / (||q|| ||f||) of all values as one vector
  double max_abs = 0.0;
};

struct QuantizationView {
  std::string float_model;          // where the float32 model came from
  std::vector<LayerError> layers;   // model order: levels (experts, then gates), towers
  std::vector<LayerError> gates;    // the softmax weights of every computed gate
  std::vector<TaskQuantizationReport> tasks;
  std::vector<RankingSummary> rankings;  // each request's ranking against the float32 model's
};

struct ActivityReport {
  ModelShape model;
  std::string data;                 // where the candidates came from
  std::string kernel_path;
  size_t requests = 0, candidates = 0;
  std::vector<GateActivity> gates;  // levels in order, gates in file order
  std::vector<std::string> warnings;
  bool has_quantization = false;
  QuantizationView quantization;
};

constexpr size_t kHistogramBins = 1000;

struct ActivityOptions {
  std::string float_model_path;     // "" or the float32 conversion of a quantized model
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;
};

// Runs `model_path` over `data` (a bundle directory or JSON lines, see ReadCandidates) with gate
// recording on. Throws std::runtime_error (or ple::Error) naming the problem: unreadable files,
// a float model whose structure differs.
ActivityReport BuildActivityReport(const std::string& model_path, const std::string& data,
                                   const ActivityOptions& options = {});

// The terminal summary: per gate, the mean weight of each expert, then the warnings.
std::string FormatActivitySummary(const ActivityReport& report);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_ACTIVITY_REPORT_H_
