// ple-convert's quantization report: a quantized model against its float32 conversion on data
// the user gives (a conformance bundle's inputs, or ple-run's JSON lines with optional labels):
// per task the max and mean absolute difference of the outputs, and for binary tasks with
// labels each model's AUC and their difference.
#ifndef PLE_TOOLS_QUANTIZATION_REPORT_H_
#define PLE_TOOLS_QUANTIZATION_REPORT_H_

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

struct QuantizationReport {
  std::string data;      // where the candidates came from
  size_t requests = 0, candidates = 0;
  std::vector<TaskQuantizationReport> tasks;
};

// The candidates of `data`: a bundle directory (with bundle.json: one request) or a JSON lines
// file (docs/ple-run.md: requests, labels optional). Throws std::runtime_error naming the
// problem, also when there are no candidates.
std::vector<RequestBatch> ReadCandidates(const std::string& data, const ple::Model& model);

// Runs one request's candidates through `session` (a request context from its request-scope
// columns) and appends their outputs (candidates x tasks) to `outputs`. Throws ple::Error.
void ScoreBatch(ple::Session& session, const ple::Model& model, const RequestBatch& batch,
                std::vector<float>* outputs);

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

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_QUANTIZATION_REPORT_H_
