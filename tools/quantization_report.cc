#include "quantization_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "conformance.h"
#include "ple/ple.hpp"
#include "request_io.h"

namespace ple {
namespace tools {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// Outputs (candidates x tasks) of every batch, in order.
std::vector<float> Score(const ple::Model& model, const std::vector<RequestBatch>& batches) {
  size_t largest = 1;
  for (const RequestBatch& b : batches) largest = std::max(largest, b.candidates);
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(largest);
  ple::Session session(model, options);
  std::vector<float> outputs;
  for (const RequestBatch& batch : batches) ScoreBatch(session, model, batch, &outputs);
  return outputs;
}

}  // namespace

void ScoreBatch(ple::Session& session, const ple::Model& model, const RequestBatch& batch,
                std::vector<float>* outputs) {
  ple::Request request(model);
  const auto request_values = RequestValues(batch.columns);
  request.Set(request_values.data(), request_values.size());
  const auto candidates = CandidateValues(batch.columns, 0, batch.candidates);
  const size_t tasks = model.tasks().size(), begin = outputs->size();
  outputs->resize(begin + batch.candidates * tasks);
  ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(),
                                      batch.candidates, outputs->data() + begin, batch.candidates * tasks, nullptr, 0));
}

std::vector<RequestBatch> ReadCandidates(const std::string& data, const ple::Model& model) {
  std::vector<RequestBatch> batches;
  if (IsDirectory(data)) {
    conformance::BundleInputs inputs = conformance::ReadBundleInputs(data, model);
    RequestBatch batch;
    batch.columns = std::move(inputs.columns);
    batch.candidates = inputs.candidates;
    batches.push_back(std::move(batch));
  } else {
    std::ifstream in(data);
    if (!in) throw std::runtime_error("cannot open '" + data + "'");
    batches = ReadJsonLines(in, model);
  }
  size_t candidates = 0;
  for (const RequestBatch& b : batches) candidates += b.candidates;
  if (candidates == 0) throw std::runtime_error("'" + data + "' has no candidates");
  return batches;
}

std::vector<TaskQuantizationReport> CompareTaskOutputs(const std::vector<TaskInfo>& tasks,
                                                       const std::vector<RequestBatch>& batches,
                                                       const std::vector<float>& a, const std::vector<float>& b) {
  size_t candidates = 0;
  for (const RequestBatch& batch : batches) candidates += batch.candidates;
  std::vector<TaskQuantizationReport> reports;
  for (size_t t = 0; t < tasks.size(); ++t) {
    TaskQuantizationReport task;
    task.name = tasks[t].name;
    task.binary = tasks[t].type == PLE_TASK_BINARY;
    std::vector<double> labels, predictions_a, predictions_b;
    double squared_error = 0.0, squared_a = 0.0;
    size_t row = 0;
    for (const RequestBatch& batch : batches) {
      for (size_t c = 0; c < batch.candidates; ++c, ++row) {
        const double x = a[row * tasks.size() + t], y = b[row * tasks.size() + t];
        task.max_abs = std::max(task.max_abs, std::fabs(x - y));
        task.mean_abs += std::fabs(x - y) / static_cast<double>(candidates);
        squared_error += (x - y) * (x - y);
        squared_a += x * x;
        if (batch.labels.empty() || !batch.labels[c][t]) continue;
        labels.push_back(*batch.labels[c][t]);
        predictions_a.push_back(x);
        predictions_b.push_back(y);
      }
    }
    task.relative_l2 = squared_a > 0.0 ? std::sqrt(squared_error / squared_a) : std::sqrt(squared_error);
    task.labelled = labels.size();
    task.auc_float32 = task.binary ? Auc(predictions_a, labels) : NAN;
    task.auc_quantized = task.binary ? Auc(predictions_b, labels) : NAN;
    reports.push_back(task);
  }
  return reports;
}

QuantizationReport CompareOnData(const std::vector<uint8_t>& float32_model, const std::vector<uint8_t>& quantized_model,
                                 const std::string& data) {
  ple::Model reference = ple::Model::OpenBuffer(float32_model.data(), float32_model.size());
  ple::Model quantized = ple::Model::OpenBuffer(quantized_model.data(), quantized_model.size());
  const std::vector<RequestBatch> batches = ReadCandidates(data, reference);
  QuantizationReport report;
  report.data = data;
  report.requests = batches.size();
  for (const RequestBatch& b : batches) report.candidates += b.candidates;
  report.tasks = CompareTaskOutputs(reference.tasks(), batches, Score(reference, batches), Score(quantized, batches));
  return report;
}

std::string FormatQuantizationReport(const QuantizationReport& report, const std::string& precision) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof(line), "quantization report: %s against float32 on %zu candidates (%zu requests) of %s\n",
                precision.c_str(), report.candidates, report.requests, report.data.c_str());
  out << line;
  std::snprintf(line, sizeof(line), "  %-20s %-10s %10s %10s %10s %10s %10s\n", "task", "type", "max_abs", "mean_abs",
                "AUC f32", "AUC quant", "AUC diff");
  out << line;
  for (const TaskQuantizationReport& t : report.tasks) {
    if (std::isnan(t.auc_float32) || std::isnan(t.auc_quantized)) {
      std::snprintf(line, sizeof(line), "  %-20s %-10s %10.2e %10.2e %10s %10s %10s\n", t.name.c_str(),
                    t.binary ? "binary" : "regression", t.max_abs, t.mean_abs, "-", "-",
                    t.binary ? (t.labelled ? "(one class)" : "(no labels)") : "");
    } else {
      std::snprintf(line, sizeof(line), "  %-20s %-10s %10.2e %10.2e %10.4f %10.4f %+10.4f\n", t.name.c_str(),
                    "binary", t.max_abs, t.mean_abs, t.auc_float32, t.auc_quantized, t.auc_quantized - t.auc_float32);
    }
    out << line;
  }
  return out.str();
}

}  // namespace tools
}  // namespace ple
