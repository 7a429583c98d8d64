// ple-run: ranks the candidates of each request in an input file with a model (docs/ple-run.md).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "ple/ple.hpp"
#include "request_io.h"
#include "version_text.h"

namespace {

using ple::tools::RequestBatch;

// Scores every candidate of `batch` in runs of the session's max_batch.
void Score(ple::Session& session, const ple::Model& model, const RequestBatch& batch, uint32_t max_batch,
           bool with_scores, std::vector<float>* outputs, std::vector<float>* scores) {
  const size_t tasks = model.tasks().size();
  outputs->assign(batch.candidates * tasks, 0.0f);
  scores->assign(batch.candidates, 0.0f);
  ple::Request request(model);
  bool has_request = false;
  for (const auto& c : batch.columns) has_request = has_request || c.request;
  if (has_request) {
    const auto values = ple::tools::RequestValues(batch.columns);
    request.Set(values.data(), values.size());
  }
  for (size_t first = 0; first < batch.candidates; first += max_batch) {
    const size_t count = std::min<size_t>(max_batch, batch.candidates - first);
    const auto values = ple::tools::CandidateValues(batch.columns, first, count);
    ple::Check(ple_session_run_features(session.get(), has_request ? request.get() : nullptr, values.data(),
                                       values.size(), count, outputs->data() + first * tasks, count * tasks,
                                       with_scores ? scores->data() + first : nullptr, with_scores ? count : 0));
  }
}

struct RunOptions {
  std::string model_path, input_path, input_format = "auto", output_path = "-", output_format = "csv",
                                      kernels = "auto", request_json;
  uint32_t max_batch = 256;
  uint32_t threads = 1;
  size_t top_k = 0;
  bool show_info = false, evaluate = false;
  std::vector<std::string> exponents;
};

void AddOptions(CLI::App& app, RunOptions* o) {
  app.add_option("model", o->model_path, "model file (.ple)")->required();
  app.add_option("--input,-i", o->input_path, "input file, or - for standard input")->required();
  app.add_option("--format,-f", o->input_format, "input format: auto (by extension: .csv is CSV), jsonl or csv")
      ->check(CLI::IsMember({"auto", "jsonl", "csv"}));
  app.add_option("--request", o->request_json, "CSV input: the request-scope features as a JSON object");
  app.add_option("--output,-o", o->output_path, "where to write the results (default: standard output)");
  app.add_option("--output-format", o->output_format, "csv or json (JSON lines)")
      ->check(CLI::IsMember({"csv", "json"}));
  app.add_option("--top-k", o->top_k, "print the best K candidates of each request (default: all)");
  app.add_option("--exponent", o->exponents, "override a task's score exponent: TASK=W (repeatable)");
  app.add_flag("--evaluate", o->evaluate,
               "print per-task AUC (binary) or MSE (regression) over the candidates' labels");
  app.add_option("--kernels,-k", o->kernels,
                 "kernel path: auto (default; PLE_KERNELS when set, else the fastest here), reference, xnnpack, "
                 "avx2, avx512, avx512vnni, avxvnni, neon, neondot, neoni8mm or wasmsimd (docs/kernels.md)");
  app.add_option("--max-batch", o->max_batch, "candidates per run (the session's prepared maximum)")
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--threads", o->threads, "threads per run (the results do not depend on it)")
      ->check(CLI::Range(1u, 64u));
  app.add_flag("--info", o->show_info, "print the session's kernel path and memory to standard error");
  app.set_version_flag("--version", ple::tools::VersionText("ple-run"));
}

// The requests of --input (a file, or standard input for '-'), as JSON lines or CSV. Throws
// std::runtime_error naming the input.
std::vector<RequestBatch> ReadInput(const RunOptions& o, const ple::Model& model) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.input_path != "-") {
    file.open(o.input_path);
    if (!file) throw std::runtime_error("cannot open input file '" + o.input_path + "'");
    in = &file;
  }
  const std::string& path = o.input_path;
  const bool csv = o.input_format == "csv" ||
                   (o.input_format == "auto" && path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0);
  try {
    return csv ? ple::tools::ReadCsv(*in, model, o.request_json) : ple::tools::ReadJsonLines(*in, model);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("input '" + o.input_path + "': " + e.what());
  }
}

// Sets one "TASK=W" of --exponent into `w` (one exponent per task of the model).
void ParseExponent(const std::string& e, const std::vector<ple::TaskInfo>& tasks, std::vector<float>* w) {
  const size_t eq = e.find('=');
  size_t t = 0;
  while (t < tasks.size() && (eq == std::string::npos || tasks[t].name != e.substr(0, eq))) ++t;
  if (eq == std::string::npos || t == tasks.size()) {
    throw std::runtime_error("--exponent '" + e + "': TASK=W with a task of the model expected");
  }
  char* end = nullptr;
  (*w)[t] = std::strtof(e.c_str() + eq + 1, &end);
  if (*end != '\0' || end == e.c_str() + eq + 1) throw std::runtime_error("--exponent '" + e + "': W is not a number");
}

// --exponent: the session scores with the model's exponents overridden by `exponents` (the
// others 0 when the model has no score), keeping the model's transform.
void OverrideExponents(const std::vector<std::string>& exponents, const ple::Model& model, ple::Session& session) {
  const auto tasks = model.tasks();
  std::vector<float> w(tasks.size(), 0.0f);
  ple_score_params score{};
  score.struct_size = sizeof(score);
  const bool has = ple_model_get_score(model.get(), &score) == PLE_OK;
  if (has) std::copy(score.exponents, score.exponents + score.num_exponents, w.begin());
  for (const std::string& e : exponents) ParseExponent(e, tasks, &w);
  if (has) {
    session.SetScore(w, score.transform, score.transform_input ? score.transform_input : "", score.regression_floor,
                     score.transform_scale, score.transform_offset);
  } else {
    session.SetScore(w);
  }
}

// --evaluate: per task, (prediction, label) over every labelled candidate of every request.
struct Evaluation {
  std::vector<std::vector<double>> predictions, labels;

  explicit Evaluation(size_t tasks) : predictions(tasks), labels(tasks) {}

  void Add(const RequestBatch& batch, const std::vector<float>& outputs) {
    const size_t tasks = labels.size();
    for (size_t c = 0; c < batch.candidates; ++c) {
      if (batch.labels[c].empty()) continue;
      for (size_t t = 0; t < tasks; ++t) {
        if (!batch.labels[c][t]) continue;
        predictions[t].push_back(outputs[c * tasks + t]);
        labels[t].push_back(*batch.labels[c][t]);
      }
    }
  }

  // The table: per task, AUC (binary; binary labels must be 0 or 1) or MSE (regression).
  void Write(std::ostream& out, const std::vector<ple::TaskInfo>& tasks) const {
    out << "task,type,labelled,positives,metric,value\n";
    for (size_t t = 0; t < tasks.size(); ++t) {
      const bool binary = tasks[t].type == PLE_TASK_BINARY;
      double positives = 0, squared_error = 0;
      for (size_t i = 0; i < labels[t].size(); ++i) {
        if (binary && labels[t][i] != 0.0 && labels[t][i] != 1.0) {
          throw std::runtime_error("task '" + tasks[t].name + "': binary labels must be 0 or 1");
        }
        positives += labels[t][i] > 0.5;
        squared_error += (predictions[t][i] - labels[t][i]) * (predictions[t][i] - labels[t][i]);
      }
      char value[32];
      const double metric = binary ? ple::tools::Auc(predictions[t], labels[t])
                                   : (labels[t].empty() ? NAN : squared_error / labels[t].size());
      std::snprintf(value, sizeof(value), "%.4f", metric);
      out << tasks[t].name << "," << (binary ? "binary" : "regression") << "," << labels[t].size() << ","
          << (binary ? std::to_string(static_cast<size_t>(positives)) : "") << "," << (binary ? "auc" : "mse") << ","
          << value << "\n";
    }
  }
};

// Writes request `r`'s candidates: best first by score when ranked, else in input order; the
// first `top_k` (0: all).
void WriteCandidates(std::ostream& out, const RunOptions& o, size_t r, const RequestBatch& batch, bool ranked,
                     const std::vector<ple::TaskInfo>& tasks, const std::vector<float>& outputs,
                     const std::vector<float>& scores) {
  std::vector<uint32_t> order(batch.candidates);
  if (ranked) {
    order = ple::TopK(scores, o.top_k > 0 ? o.top_k : batch.candidates);
  } else {
    for (size_t c = 0; c < batch.candidates; ++c) order[c] = static_cast<uint32_t>(c);
    if (o.top_k > 0 && o.top_k < order.size()) order.resize(o.top_k);
  }
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t c = order[i];
    const ple::tools::ScoredCandidate row{r, c, i + 1, batch.ids[c], scores[c], outputs.data() + c * tasks.size()};
    if (o.output_format == "csv") {
      ple::tools::WriteCsvRow(out, row, tasks.size(), ranked);
    } else {
      ple::tools::WriteJsonRow(out, row, tasks, ranked);
    }
  }
}

// Reads the input, scores every request and writes the ranked candidates (or, with
// --evaluate, the metrics). Throws std::runtime_error or ple::Error naming what failed.
void RunRequests(const RunOptions& o) {
  ple::Model model = ple::Model::OpenFile(o.model_path);
  const auto tasks = model.tasks();
  const std::vector<RequestBatch> batches = ReadInput(o, model);
  size_t total = 0;
  for (const auto& b : batches) total += b.candidates;
  if (total == 0) throw std::runtime_error("input '" + o.input_path + "' has no candidates");

  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(std::min<size_t>(o.max_batch, total));
  ple_kernel_path path;
  if (ple_kernel_path_from_name(o.kernels.c_str(), &path) != PLE_OK) {
    throw std::runtime_error("--kernels: '" + o.kernels + "' is not a kernel path");
  }
  options.kernel_path = path;
  options.num_threads = o.threads;
  ple::Session session(model, options);
  bool ranked = model.has_score();
  if (!o.exponents.empty()) {
    OverrideExponents(o.exponents, model, session);
    ranked = true;
  }
  if (o.show_info) {
    const ple_session_info info = session.info();
    std::fprintf(stderr,
                 "ple-run: %zu requests, %zu candidates; session: kernel path %s, max_batch %u, tile_rows %u, "
                 "arena %zu bytes, packed weights %zu bytes (predicted total before creation: %zu bytes)\n",
                 batches.size(), total, ple_kernel_path_name(info.kernel_path), info.max_batch, info.tile_rows,
                 info.arena_bytes, info.packed_weight_bytes, ple::Session::MemoryBytes(model, options));
  }

  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (o.output_path != "-") {
    out_file.open(o.output_path);
    if (!out_file) throw std::runtime_error("cannot open output file '" + o.output_path + "'");
    out = &out_file;
  }
  Evaluation evaluation(tasks.size());
  if (!o.evaluate && o.output_format == "csv") ple::tools::WriteCsvHeader(*out, tasks, ranked);
  std::vector<float> outputs, scores;
  for (size_t r = 0; r < batches.size(); ++r) {
    const RequestBatch& batch = batches[r];
    if (batch.candidates == 0) continue;
    try {
      Score(session, model, batch, options.max_batch, ranked, &outputs, &scores);
    } catch (const ple::Error& e) {
      throw std::runtime_error("request " + std::to_string(r) + " (line " + std::to_string(batch.line) +
                               "): " + e.what());
    }
    if (o.evaluate) {
      evaluation.Add(batch, outputs);
    } else {
      WriteCandidates(*out, o, r, batch, ranked, tasks, outputs, scores);
    }
  }
  if (o.evaluate) evaluation.Write(*out, tasks);
  out->flush();
  if (!*out) throw std::runtime_error("cannot write the results to '" + o.output_path + "'");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ple-run: rank the candidates of each request in an input file with a PLE model file.\n"
      "Input (docs/ple-run.md): JSON lines, a {\"request\": {...}} line with the request-scope features,\n"
      "then one line per candidate with its features (and extras, \"id\", \"labels\"); or CSV candidates\n"
      "with --request. Output: each request's candidates best first (when the model has a score)."};
  RunOptions options;
  AddOptions(app, &options);
  CLI11_PARSE(app, argc, argv);
  try {
    RunRequests(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-run: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
