// `ple-convert --precision auto:TARGETS` (docs/quantization.md, "Precision chosen to a budget"):
// each dense layer's and embedding table's precision (int8, f16 or f32) chosen so the quantized
// model keeps the float32 model's ranking on calibration data to the targets, at the least
// predicted cost on a target CPU (converter/src/cost_model.h), then checked on separate
// evaluation data before anything is written. Every model runs on the reference kernel path,
// whose float arithmetic is the same on every platform, so the same inputs give the same file
// on any machine.
#ifndef PLE_TOOLS_PRECISION_PLANNER_H_
#define PLE_TOOLS_PRECISION_PLANNER_H_

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "converter.h"
#include "cost_model.h"
#include "quantization_report.h"

namespace ple {
namespace tools {

// The spec after "auto:": ranking targets (top1, top3, top5, top10, tau, ndcg: the mean per
// request, each in (0, 1]) and optional cost limits (size: file bytes; time: predicted
// microseconds per run of 200 candidates on the target), e.g. "top5=0.995,tau=0.98,time=900".
struct AutoPrecisionSpec {
  std::vector<std::pair<std::string, double>> targets;  // in the spec's order
  double max_bytes = std::numeric_limits<double>::infinity();
  double max_us = std::numeric_limits<double>::infinity();
  // Throws ConvertError naming what is wrong; at least one target.
  static AutoPrecisionSpec Parse(const std::string& spec);
  std::string ToString() const;
};

// A measure of `summaries` (one per ranking: the score's, or each task's without one): the
// worst over them of top1, top3, top5, top10, tau (mean tau-b) or ndcg (mean NDCG).
double RankingMeasure(const std::vector<RankingSummary>& summaries, const std::string& name);

struct PrecisionChoice {
  std::vector<std::string> units;          // names, in PrecisionUnits order
  std::vector<convert::Precision> precisions;
  double predicted_us = 0.0;               // dense layers, per run of 200 candidates on the target
  double predicted_us_float32 = 0.0;       // the same with every layer float32
  std::vector<uint8_t> file;               // the model file, written with `write`
  std::vector<RankingSummary> calibration, evaluation;
  std::string plan;                        // what was chosen and measured, lines for the user
};

// Plans on `calibration_data`, verifies on `evaluation_data` (both as --report-data takes
// them). `progress` gets one line per step. Throws ConvertError when the targets cannot be
// met within the limits (saying the best reached), or are missed on the evaluation data.
PrecisionChoice ChoosePrecisions(const convert::ConvertedModel& float32, const AutoPrecisionSpec& spec,
                                 const convert::CostTarget& target, const std::string& calibration_data,
                                 const std::string& evaluation_data, const convert::WriteOptions& write,
                                 const std::function<void(const std::string&)>& progress);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_PRECISION_PLANNER_H_
