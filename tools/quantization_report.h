// ple-convert's quantization report: a quantized model against its float32 conversion on data
// the user gives (a conformance bundle's inputs, or ple-run's JSON lines with optional labels):
// per task the max and mean absolute difference of the outputs, and for binary tasks with
// labels each model's AUC and their difference; per request how the ranking changes
// (ranking_metrics.h), summarised (docs/quantization.md, "Ranking").
#ifndef PLE_TOOLS_QUANTIZATION_REPORT_H_
#define PLE_TOOLS_QUANTIZATION_REPORT_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "request_io.h"

namespace ple {
namespace tools {

struct TaskQuantizationReport {
  std::string name;
  bool binary = true;
  double max_abs = 0.0, mean_abs = 0.0;  // |quantized - float32| over every candidate
  double relative_l2 = 0.0;              // ||quantized - float32|| / ||float32|| over every candidate
  size_t labelled = 0;                   // candidates with a label for this task
  double auc_float32 = 0.0, auc_quantized = 0.0;  // binary tasks with both classes labelled (else NaN)
};

// How the quantized model ranks each request's candidates against the float32 model, averaged
// over the requests where each measure is defined (NaN: none).
struct RankingSummary {
  std::string ranked_by;        // "score", or "task NAME" for a model without a ranking score
  size_t requests = 0;          // requests of at least two candidates
  double top1 = NAN;            // fraction of them whose best candidate stays first
  double top3 = NAN, top5 = NAN, top10 = NAN;  // mean top-k overlap, requests of more than k candidates
  size_t top3_requests = 0, top5_requests = 0, top10_requests = 0;
  double worst_top5 = NAN;
  double tau_b = NAN, worst_tau_b = NAN;       // Kendall's tau-b of the score orders
  double ndcg = NAN, worst_ndcg = NAN;         // of the quantized order, float32 scores as gains
};

struct QuantizationReport {
  std::string data;      // where the candidates came from
  std::string grouping;  // how they were grouped into requests
  size_t requests = 0, candidates = 0;
  std::vector<TaskQuantizationReport> tasks;
  std::vector<RankingSummary> rankings;  // by the score, or by each task without one
};

// The candidates of `data`: a bundle directory (with bundle.json: one request) or a JSON lines
// file (docs/ple-run.md: requests, labels optional). Throws std::runtime_error naming the
// problem, also when there are no candidates.
std::vector<RequestBatch> ReadCandidates(const std::string& data, const ple::Model& model);

// Runs one request's candidates through `session` (a request context from its request-scope
// columns) and appends their outputs (candidates x tasks) to `outputs`, and their ranking
// scores to `scores` when given and the model has a score. Throws ple::Error.
void ScoreBatch(ple::Session& session, const ple::Model& model, const RequestBatch& batch,
                std::vector<float>* outputs, std::vector<float>* scores = nullptr);

// Options for scoring `batches` one request at a time: max_batch their largest request.
ple::SessionOptions BatchSessionOptions(const std::vector<RequestBatch>& batches,
                                        ple_kernel_path kernel_path = PLE_KERNELS_AUTO);

// Every batch through `model` (ScoreBatch on one session): the outputs (candidates x tasks), and
// the scores in `scores` when given and the model has a score.
std::vector<float> ScoreBatches(const ple::Model& model, const std::vector<RequestBatch>& batches,
                                std::vector<float>* scores = nullptr, ple_kernel_path kernel_path = PLE_KERNELS_AUTO);

// Per request of `batches`, the float32 model's ranking (outputs_a, scores_a) against the
// quantized one's (_b): by the scores when given (non-empty), else by each task's outputs.
std::vector<RankingSummary> CompareRankings(const std::vector<TaskInfo>& tasks, const std::vector<RequestBatch>& batches,
                                            const std::vector<float>& outputs_a, const std::vector<float>& outputs_b,
                                            const std::vector<float>& scores_a, const std::vector<float>& scores_b);

// Per task, float32 outputs `a` against quantized outputs `b` (both candidates x tasks, the
// candidates of `batches` in order), with the AUCs where `batches` carry labels.
std::vector<TaskQuantizationReport> CompareTaskOutputs(const std::vector<TaskInfo>& tasks,
                                                       const std::vector<RequestBatch>& batches,
                                                       const std::vector<float>& a, const std::vector<float>& b);

// `data`: a bundle directory (with bundle.json) or a JSON lines file (docs/ple-run.md). Both
// models run on the fastest kernel path here. Throws std::runtime_error naming the problem.
QuantizationReport CompareOnData(const std::vector<uint8_t>& float32_model, const std::vector<uint8_t>& quantized_model,
                                 const std::string& data);

std::string FormatQuantizationReport(const QuantizationReport& report, const std::string& precision);
// Two lines: "  ranking by the score over 40 requests (...):" then the measures.
std::string FormatRankingSummary(const RankingSummary& summary, const std::string& grouping);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_QUANTIZATION_REPORT_H_
