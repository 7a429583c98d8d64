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
#include "ranking_metrics.h"
#include "request_io.h"

namespace ple {
namespace tools {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}


// The mean of the defined values (NaN when none), their count and their minimum.
struct Mean {
  double sum = 0.0, worst = NAN;
  size_t count = 0;
  void Add(double v) {
    if (std::isnan(v)) return;
    sum += v, ++count;
    worst = std::isnan(worst) ? v : std::min(worst, v);
  }
  double value() const { return count ? sum / static_cast<double>(count) : NAN; }
};

RankingSummary Summarize(const std::string& ranked_by, const std::vector<RankingAgreement>& requests) {
  RankingSummary s;
  s.ranked_by = ranked_by;
  Mean top1, top3, top5, top10, tau_b, ndcg;
  for (const RankingAgreement& r : requests) {
    if (r.candidates < 2) continue;
    ++s.requests;
    top1.Add(r.top1_kept ? 1.0 : 0.0);
    top3.Add(r.top3), top5.Add(r.top5), top10.Add(r.top10), tau_b.Add(r.tau_b), ndcg.Add(r.ndcg);
  }
  s.top1 = top1.value();
  s.top3 = top3.value(), s.top5 = top5.value(), s.top10 = top10.value();
  s.top3_requests = top3.count, s.top5_requests = top5.count, s.top10_requests = top10.count;
  s.worst_top5 = top5.worst;
  s.tau_b = tau_b.value(), s.worst_tau_b = tau_b.worst;
  s.ndcg = ndcg.value(), s.worst_ndcg = ndcg.worst;
  return s;
}

}  // namespace

ple::SessionOptions BatchSessionOptions(const std::vector<RequestBatch>& batches, ple_kernel_path kernel_path) {
  size_t largest = 1;
  for (const RequestBatch& b : batches) largest = std::max(largest, b.candidates);
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(largest);
  options.kernel_path = kernel_path;
  return options;
}

std::vector<float> ScoreBatches(const ple::Model& model, const std::vector<RequestBatch>& batches,
                                std::vector<float>* scores, ple_kernel_path kernel_path) {
  ple::Session session(model, BatchSessionOptions(batches, kernel_path));
  std::vector<float> outputs;
  for (const RequestBatch& batch : batches) ScoreBatch(session, model, batch, &outputs, scores);
  return outputs;
}

void ScoreBatch(ple::Session& session, const ple::Model& model, const RequestBatch& batch,
                std::vector<float>* outputs, std::vector<float>* scores) {
  ple::Request request(model);
  const auto request_values = RequestValues(batch.columns);
  request.Set(request_values.data(), request_values.size());
  const auto candidates = CandidateValues(batch.columns, 0, batch.candidates);
  const size_t tasks = model.tasks().size(), begin = outputs->size();
  outputs->resize(begin + batch.candidates * tasks);
  const bool scored = scores != nullptr && model.has_score();
  if (scored) scores->resize(scores->size() + batch.candidates);
  ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(),
                                      batch.candidates, outputs->data() + begin, batch.candidates * tasks,
                                      scored ? scores->data() + scores->size() - batch.candidates : nullptr,
                                      scored ? batch.candidates : 0));
}

std::vector<RankingSummary> CompareRankings(const std::vector<TaskInfo>& tasks, const std::vector<RequestBatch>& batches,
                                            const std::vector<float>& outputs_a, const std::vector<float>& outputs_b,
                                            const std::vector<float>& scores_a, const std::vector<float>& scores_b) {
  std::vector<RankingSummary> summaries;
  const bool by_score = !scores_a.empty() && scores_a.size() == scores_b.size();
  for (size_t t = 0; t < (by_score ? 1 : tasks.size()); ++t) {
    std::vector<RankingAgreement> agreements;
    size_t row = 0;
    for (const RequestBatch& batch : batches) {
      std::vector<double> a(batch.candidates), b(batch.candidates);
      for (size_t c = 0; c < batch.candidates; ++c, ++row) {
        a[c] = by_score ? scores_a[row] : outputs_a[row * tasks.size() + t];
        b[c] = by_score ? scores_b[row] : outputs_b[row * tasks.size() + t];
      }
      agreements.push_back(CompareRanking(a, b));
    }
    summaries.push_back(Summarize(by_score ? "score" : "task " + tasks[t].name, agreements));
  }
  return summaries;
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
        if (c >= batch.labels.size() || batch.labels[c].empty() || !batch.labels[c][t]) continue;  // unlabelled
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
  report.grouping = IsDirectory(data) ? "the bundle's candidates as one request" : "the requests of the data";
  report.requests = batches.size();
  for (const RequestBatch& b : batches) report.candidates += b.candidates;
  std::vector<float> scores_a, scores_b;
  const std::vector<float> a = ScoreBatches(reference, batches, &scores_a), b = ScoreBatches(quantized, batches, &scores_b);
  report.tasks = CompareTaskOutputs(reference.tasks(), batches, a, b);
  report.rankings = CompareRankings(reference.tasks(), batches, a, b, scores_a, scores_b);
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
  for (const RankingSummary& r : report.rankings) out << FormatRankingSummary(r, report.grouping);
  return out.str();
}

std::string FormatRankingSummary(const RankingSummary& r, const std::string& grouping) {
  char line[512];
  std::snprintf(line, sizeof(line), "  ranking by the %s over %zu request%s (%s):\n    top-1 kept %.3f", r.ranked_by.c_str(),
                r.requests, r.requests == 1 ? "" : "s", grouping.c_str(), r.top1);
  std::string text = line;
  const std::pair<double, size_t> tops[] = {{r.top3, r.top3_requests}, {r.top5, r.top5_requests}, {r.top10, r.top10_requests}};
  const int ks[] = {3, 5, 10};
  for (int i = 0; i < 3; ++i) {
    std::snprintf(line, sizeof(line), tops[i].second == 0 ? ", top-%d -" : ", top-%d %.3f", ks[i], tops[i].first);
    text += line;
    if (ks[i] == 5 && tops[i].second != 0) {
      std::snprintf(line, sizeof(line), " (worst %.2f)", r.worst_top5);
      text += line;
    }
  }
  std::snprintf(line, sizeof(line), " (mean overlap); Kendall tau-b %.4f (worst %.4f); NDCG %.5f (worst %.5f)\n", r.tau_b,
                r.worst_tau_b, r.ndcg, r.worst_ndcg);
  return text + line;
}

}  // namespace tools
}  // namespace ple
