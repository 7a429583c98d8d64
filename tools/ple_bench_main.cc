// ple-bench: how fast and how large one model is on this machine (docs/ple-bench.md).
// Load and prepare time, the first run, a warm-up, then timed runs per batch size and thread
// count: latency percentiles, candidates per second, resident memory, arena bytes and a
// per-stage profile; a text report and, with --json, a machine-readable one.
// Arguments are parsed by hand (no CLI library) so the tool cross-builds with the tests.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "capi/c_api_internal.h"
#include "bench_stats.h"
#include "conformance.h"
#include "converter.h"
#include "feature_columns.h"
#include "request_io.h"
#include "ple/ple.hpp"
#include "version_text.h"

namespace {

using Clock = std::chrono::steady_clock;
using ple::tools::ProcessCpuMicroseconds;
using ple::tools::Stats;
using ple::tools::Summarize;
using json = nlohmann::ordered_json;

const char kUsage[] =
    "usage: ple-bench MODEL.ple [options]\n"
    "       ple-bench --config CONFIG.json --weights WEIGHTS.safetensors [--precision SPEC] [options]\n"
    "options:\n"
    "  --batch LIST        candidates per run, e.g. 1,50,200,1000 (default 200)\n"
    "  --threads LIST      session threads, e.g. 1,2 (default 1)\n"
    "  --kernels NAME      kernel path: auto (default), reference, xnnpack, avx2, avx512, ...\n"
    "  --cpus WHICH        where the session's threads run: all (default), big, little, or a\n"
    "                      mask of CPUs such as 0xf0 (docs/performance.md, \"Big and little cores\")\n"
    "  --mode MODE         broadcast: request-scope features given once per request (default);\n"
    "                      per_row: every row brings them (dense-only models, ple_session_run)\n"
    "  --fresh-request     broadcast: set the request context again before every run\n"
    "                      (default: reused, its request part computed once)\n"
    "  --runs N            timed runs per batch size (default 100)\n"
    "  --warmup N          untimed runs before them (default 10)\n"
    "  --min-time SECONDS  keep running until this much time is measured (default 0)\n"
    "  --max-time SECONDS  stop the timed runs of a batch after this long, 5 runs at least\n"
    "                      (default: no limit)\n"
    "  --input FILE.jsonl  candidates from ple-run's JSON lines (first request, cycled to fill a\n"
    "                      batch) instead of random values\n"
    "  --seed N            random inputs' seed (default 1)\n"
    "  --no-profile        skip the per-stage profile (separate runs after the timed ones)\n"
    "  --json FILE         also write the results as JSON ('-': standard output, no text report)\n"
    "  --precision SPEC    with --config: how to convert (ple-convert's --precision; default int8)\n"
    "  --version           print the library, C ABI and model schema versions\n";

struct Options {
  std::string model_path, config_path, weights_path, precision = "int8", kernels = "auto", mode = "broadcast";
  std::string input_path, json_path;
  std::vector<size_t> batches = {200};
  std::vector<uint32_t> threads = {1};
  ple_cpu_selection cpus = PLE_CPUS_ALL;
  uint64_t cpu_mask = 0;
  bool fresh_request = false, profile = true;
  size_t runs = 100, warmup = 10;
  double min_time_s = 0.0, max_time_s = 0.0;  // 0: no limit
  uint32_t seed = 1;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "ple-bench: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

size_t ParseCount(const std::string& option, const std::string& text, size_t min) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || value < min || value > (1ull << 31)) {
    UsageError(option + " expects a whole number of at least " + std::to_string(min) + ", got '" + text + "'");
  }
  return static_cast<size_t>(value);
}

template <typename T>
std::vector<T> ParseList(const std::string& option, const std::string& text, size_t min) {
  std::vector<T> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) values.push_back(static_cast<T>(ParseCount(option, item, min)));
  if (values.empty()) UsageError(option + " expects a comma-separated list");
  return values;
}

Options ParseArguments(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("%s\n", ple::tools::VersionText("ple-bench").c_str());
      std::exit(0);
    } else if (arg == "--config") {
      o.config_path = value();
    } else if (arg == "--weights") {
      o.weights_path = value();
    } else if (arg == "--precision") {
      o.precision = value();
    } else if (arg == "--batch") {
      o.batches = ParseList<size_t>(arg, value(), 1);
    } else if (arg == "--threads") {
      o.threads = ParseList<uint32_t>(arg, value(), 1);
    } else if (arg == "--kernels") {
      o.kernels = value();
    } else if (arg == "--cpus") {
      const std::string which = value();
      char* end = nullptr;
      o.cpus = which == "all" ? PLE_CPUS_ALL : which == "big" ? PLE_CPUS_BIG : which == "little" ? PLE_CPUS_LITTLE : PLE_CPUS_MASK;
      if (o.cpus == PLE_CPUS_MASK) o.cpu_mask = std::strtoull(which.c_str(), &end, 0);
      if (o.cpus == PLE_CPUS_MASK && (which.empty() || *end != '\0' || o.cpu_mask == 0))
        UsageError("--cpus is all, big, little or a non-zero CPU mask such as 0xf0, got '" + which + "'");
    } else if (arg == "--mode") {
      o.mode = value();
      if (o.mode != "broadcast" && o.mode != "per_row")
        UsageError("--mode is broadcast or per_row, got '" + o.mode + "'");
    } else if (arg == "--fresh-request") {
      o.fresh_request = true;
    } else if (arg == "--runs") {
      o.runs = ParseCount(arg, value(), 1);
    } else if (arg == "--warmup") {
      o.warmup = ParseCount(arg, value(), 0);
    } else if (arg == "--min-time" || arg == "--max-time") {
      const std::string text = value();
      char* end = nullptr;
      const double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(seconds >= 0.0)) UsageError(arg + " expects seconds, got '" + text + "'");
      (arg == "--min-time" ? o.min_time_s : o.max_time_s) = seconds;
    } else if (arg == "--input") {
      o.input_path = value();
    } else if (arg == "--seed") {
      o.seed = static_cast<uint32_t>(ParseCount(arg, value(), 0));
    } else if (arg == "--no-profile") {
      o.profile = false;
    } else if (arg == "--json") {
      o.json_path = value();
    } else if (!arg.empty() && arg[0] == '-') {
      UsageError("unknown option " + arg);
    } else if (o.model_path.empty()) {
      o.model_path = arg;
    } else {
      UsageError("more than one model given ('" + o.model_path + "' and '" + arg + "')");
    }
  }
  if (o.model_path.empty() == o.config_path.empty()) UsageError("give a model file, or --config and --weights");
  if (!o.config_path.empty() && o.weights_path.empty()) UsageError("--config needs --weights");
  return o;
}

// Resident memory of this process from /proc/self/status (bytes; 0 where there is no /proc).
struct Memory {
  size_t rss = 0, peak = 0;  // VmRSS, VmHWM
};
Memory ReadMemory() {
  Memory m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kib) == 1) m.rss = kib * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kib) == 1) m.peak = kib * 1024;
  }
  return m;
}

double Microseconds(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Random values for every column: dense and extras ~ N(0, 1) (extras |N| * 100, as a length
// in seconds), ids uniform in the vocabulary, sequence lengths uniform in 1..max_length.
std::vector<ple::tools::FeatureColumn> RandomColumns(const ple::Model& model, size_t candidates, uint32_t seed) {
  std::vector<ple::tools::FeatureColumn> columns = ple::tools::ModelColumns(model);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<ple::FeatureInfo> features = model.features();  // a copy: features() returns by value
  for (size_t i = 0; i < columns.size(); ++i) {
    ple::tools::FeatureColumn& c = columns[i];
    const size_t rows = c.request ? 1 : candidates;
    if (c.extra) {
      for (size_t r = 0; r < rows; ++r) c.floats.push_back(std::fabs(normal(rng)) * 100.0f + 1.0f);
      continue;
    }
    const ple::FeatureInfo& feature = features[i];
    std::uniform_int_distribution<int64_t> id(0, static_cast<int64_t>(std::max<size_t>(feature.vocabulary, 1)) - 1);
    switch (c.kind) {
      case PLE_FEATURE_DENSE:
        for (size_t v = 0; v < rows * c.width; ++v) c.floats.push_back(normal(rng));
        break;
      case PLE_FEATURE_SPARSE:
        for (size_t r = 0; r < rows; ++r) c.ids.push_back(id(rng));
        break;
      case PLE_FEATURE_SEQUENCE: {
        std::uniform_int_distribution<size_t> length(1, c.width);
        std::vector<int64_t> ids;
        for (size_t r = 0; r < rows; ++r) {
          ids.resize(length(rng));
          for (int64_t& v : ids) v = id(rng);
          c.AppendSequence(ids.data(), ids.size());
        }
        break;
      }
    }
  }
  return columns;
}

// `source`'s candidates repeated to `candidates` rows (request columns kept as they are).
std::vector<ple::tools::FeatureColumn> Cycle(const std::vector<ple::tools::FeatureColumn>& source, size_t have,
                                             size_t candidates) {
  std::vector<ple::tools::FeatureColumn> columns = source;
  for (ple::tools::FeatureColumn& c : columns) {
    if (c.request) continue;
    c.floats.clear();
    c.ids.clear();
    c.lengths.clear();
    c.first_id.clear();
  }
  for (size_t r = 0; r < candidates; ++r) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const ple::tools::FeatureColumn& from = source[i];
      ple::tools::FeatureColumn& to = columns[i];
      if (to.request || (from.extra && from.floats.empty())) continue;
      const size_t row = r % have;
      if (from.kind == PLE_FEATURE_SEQUENCE && !from.extra) {
        to.AppendSequence(from.ids.data() + from.first_id[row], from.lengths[row]);
      } else if (from.kind == PLE_FEATURE_SPARSE && !from.extra) {
        to.ids.push_back(from.ids[row]);
      } else {
        to.floats.insert(to.floats.end(), from.floats.begin() + row * from.width,
                         from.floats.begin() + (row + 1) * from.width);
      }
    }
  }
  return columns;
}

// The per_row mode's input: every row's features in the model's order, request ones included.
std::vector<float> DenseRows(const ple::Model& model, const std::vector<ple::tools::FeatureColumn>& columns,
                             size_t candidates) {
  std::vector<float> rows(candidates * model.row_width());
  for (size_t r = 0; r < candidates; ++r) {
    size_t offset = 0;
    for (const ple::tools::FeatureColumn& c : columns) {
      if (c.extra) continue;
      const size_t row = c.request ? 0 : r;
      std::copy(c.floats.begin() + row * c.width, c.floats.begin() + (row + 1) * c.width,
                rows.begin() + r * model.row_width() + offset);
      offset += c.width;
    }
  }
  return rows;
}

std::string Bytes(size_t bytes) {
  char text[32];
  if (bytes >= (size_t{1} << 20)) {
    std::snprintf(text, sizeof(text), "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof(text), "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return text;
}

// The model under test, converted in memory first for --config, and what loading it took.
struct LoadedModel {
  ple::Model model;
  double convert_ms = 0, load_ms = 0;
  size_t file_bytes = 0;
  bool mapped = false;  // opened from its file (mmap), not copied from a conversion
};

LoadedModel LoadModel(const Options& o) {
  std::vector<uint8_t> converted;
  double convert_ms = 0;
  if (!o.config_path.empty()) {
    const auto start = Clock::now();
    converted =
        ple::convert::ConvertNative(o.config_path, o.weights_path, {}, ple::convert::PrecisionPlan::Parse(o.precision))
            .bytes;
    convert_ms = Microseconds(Clock::now() - start) / 1000;
  }
  const bool mapped = converted.empty();
  const auto load_start = Clock::now();
  ple::Model model = converted.empty() ? ple::Model::OpenFile(o.model_path)
                                       : ple::Model::OpenBufferCopy(converted.data(), converted.size());
  const double load_ms = Microseconds(Clock::now() - load_start) / 1000;
  const size_t file_bytes =
      converted.empty() ? static_cast<size_t>(std::ifstream(o.model_path, std::ios::binary | std::ios::ate).tellg())
                        : converted.size();
  return {std::move(model), convert_ms, load_ms, file_bytes, mapped};
}

// What every run reads: the largest batch's candidates (smaller batches use its first rows)
// and the request context's values. `request_values` and the candidates' values point into
// `columns`, which stays unchanged while they are used.
struct Workload {
  size_t max_batch = 0;
  size_t tasks = 0;
  bool has_request = false;  // the model has request-scope features
  std::string mode;          // as reported: --mode, or "candidates only" for a model without request features
  std::vector<ple::tools::FeatureColumn> columns;
  std::vector<float> dense_rows;  // --mode per_row: every row's features, request ones included
  std::vector<ple_feature_values> request_values;
};

// Exits with a usage error when --mode per_row meets a model with sparse or sequence features;
// throws std::runtime_error for an unreadable --input.
Workload PrepareWorkload(const Options& o, const ple::Model& model) {
  Workload w;
  bool dense_only = true;
  for (const auto& f : model.features()) {
    dense_only = dense_only && f.kind == PLE_FEATURE_DENSE;
    w.has_request = w.has_request || f.scope == PLE_SCOPE_REQUEST;
  }
  if (o.mode == "per_row" && !dense_only) UsageError("--mode per_row needs a model whose features are all dense");
  w.mode = w.has_request ? o.mode : "candidates only";
  w.max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  if (!o.input_path.empty()) {
    std::ifstream in(o.input_path);
    if (!in) throw std::runtime_error("cannot open '" + o.input_path + "'");
    std::vector<ple::tools::RequestBatch> requests = ple::tools::ReadJsonLines(in, model);
    if (requests.empty() || requests[0].candidates == 0) throw std::runtime_error(o.input_path + ": no candidates");
    w.columns = Cycle(requests[0].columns, requests[0].candidates, w.max_batch);
  } else {
    w.columns = RandomColumns(model, w.max_batch, o.seed);
  }
  if (o.mode == "per_row") w.dense_rows = DenseRows(model, w.columns, w.max_batch);
  w.request_values = ple::tools::RequestValues(w.columns);
  w.tasks = model.tasks().size();
  return w;
}

// One session (one thread count) as the batches of it see it.
struct SessionUnderTest {
  ple::Session& session;
  ple::Request& request;
  uint32_t threads = 1;
  double prepare_ms = 0;
  ple_session_info info{};
};

// One batch size's runs: the first, the warm-up, and the timed ones (microseconds each).
struct Timing {
  double first_us = 0, warmup_total_us = 0;
  std::vector<double> samples_us;
  double cpu_us_per_run = 0;  // the process's CPU time over the timed runs (every thread, spinning included) / runs
};

// At least --runs timed runs and --min-time measured, stopping at --max-time once 5 are done.
template <typename RunOnce>
Timing TimeRuns(const Options& o, const RunOnce& run_once) {
  auto timed = [&] {
    const auto start = Clock::now();
    run_once();
    return Microseconds(Clock::now() - start);
  };
  Timing t;
  t.first_us = timed();
  for (size_t i = 0; i < o.warmup; ++i) t.warmup_total_us += timed();
  double measured_s = 0;
  constexpr size_t kMinRuns = 5;
  const double cpu_start = ProcessCpuMicroseconds();
  while (t.samples_us.size() < o.runs || measured_s < o.min_time_s) {
    if (o.max_time_s > 0 && measured_s >= o.max_time_s && t.samples_us.size() >= kMinRuns) break;
    t.samples_us.push_back(timed());
    measured_s += t.samples_us.back() / 1e6;
  }
  t.cpu_us_per_run = (ProcessCpuMicroseconds() - cpu_start) / static_cast<double>(t.samples_us.size());
  return t;
}

// The per-stage profile, from separate runs (as many as the timed ones, 10 to 100): each
// stage's time per run and share, as JSON and as the text report's line.
struct StageProfile {
  json stages = json::array();
  std::string text;
};

template <typename RunOnce>
StageProfile ProfileStages(ple::Session& session, size_t timed_runs, const RunOnce& run_once) {
  session.SetProfiling(true);
  const size_t profile_runs = std::max<size_t>(10, std::min<size_t>(timed_runs, 100));
  for (size_t i = 0; i < profile_runs; ++i) run_once();
  const std::vector<ple_stage_time> stages = session.Profile();
  session.SetProfiling(false);
  double total_ns = 0;
  for (const ple_stage_time& st : stages) total_ns += static_cast<double>(st.nanoseconds);
  StageProfile profile;
  for (const ple_stage_time& st : stages) {
    const double us = static_cast<double>(st.nanoseconds) / 1000.0 / static_cast<double>(profile_runs);
    const double share = total_ns > 0 ? static_cast<double>(st.nanoseconds) / total_ns : 0.0;
    profile.stages.push_back({{"stage", st.name}, {"us_per_run", us}, {"share", share}});
    char item[96];
    std::snprintf(item, sizeof(item), "%s%s %.1f us (%.0f%%)", profile.text.empty() ? "" : ", ", st.name, us,
                  100 * share);
    profile.text += item;
  }
  return profile;
}

// Runs `batch` candidates on `s` (timed, then profiled), prints its lines to `text` (nullptr:
// none) and returns its JSON result. `outputs` holds max_batch x tasks floats.
json BenchBatch(const Options& o, const Workload& w, SessionUnderTest& s, size_t batch, std::vector<float>& outputs,
                FILE* text) {
  const std::vector<ple_feature_values> candidates = ple::tools::CandidateValues(w.columns, 0, batch);
  auto run_once = [&] {
    if (o.mode == "per_row") {
      s.session.Run(w.dense_rows.data(), batch, outputs.data());
      return;
    }
    if (w.has_request && o.fresh_request) s.request.Set(w.request_values.data(), w.request_values.size());
    ple::Check(ple_session_run_features(s.session.get(), w.has_request ? s.request.get() : nullptr, candidates.data(),
                                        candidates.size(), batch, outputs.data(), batch * w.tasks, nullptr, 0));
  };
  const Timing t = TimeRuns(o, run_once);
  const Stats st = Summarize(t.samples_us);
  const double per_second = static_cast<double>(batch) / (st.p50 / 1e6);
  const double warmup_mean_us = o.warmup ? t.warmup_total_us / static_cast<double>(o.warmup) : 0.0;
  const StageProfile profile = o.profile ? ProfileStages(s.session, t.samples_us.size(), run_once) : StageProfile();
  const Memory now = ReadMemory();
  if (text) {
    std::fprintf(
        text,
        "batch %zu (%s%s): first run %.1f us, warm-up mean %.1f us (%zu runs)\n"
        "  %zu runs: min %.1f  mean %.1f  p50 %.1f  p95 %.1f  p99 %.1f  max %.1f us;"
        " %.0f candidates/s; CPU %.1f us a run (all threads)\n",
        batch, w.mode.c_str(),
        w.has_request && w.mode == "broadcast" ? (o.fresh_request ? ", fresh request" : ", request reused") : "",
        t.first_us, warmup_mean_us, o.warmup, t.samples_us.size(), st.min, st.mean, st.p50, st.p95, st.p99, st.max,
        per_second, t.cpu_us_per_run);
    if (o.profile) std::fprintf(text, "  profile (threads summed): %s\n", profile.text.c_str());
  }
  return {{"batch", batch},
          {"threads", s.threads},
          {"mode", w.mode},
          {"fresh_request", o.fresh_request},
          {"kernel_path", ple_kernel_path_name(s.info.kernel_path)},
          {"prepare_ms", s.prepare_ms},
          {"arena_bytes", s.info.arena_bytes},
          {"packed_weight_bytes", s.info.packed_weight_bytes},
          {"first_run_us", t.first_us},
          {"warmup_runs", o.warmup},
          {"warmup_mean_us", warmup_mean_us},
          {"runs", t.samples_us.size()},
          {"min_us", st.min},
          {"mean_us", st.mean},
          {"p50_us", st.p50},
          {"p95_us", st.p95},
          {"p99_us", st.p99},
          {"max_us", st.max},
          {"candidates_per_s", per_second},
          {"cpu_us_per_run", t.cpu_us_per_run},
          {"rss_bytes", now.rss},
          {"profile", profile.stages}};
}

// One session with `threads` threads, prepared for the largest batch, then every batch size on
// it; their results are appended to `results`. `precision` is set from the first session.
void BenchSession(const Options& o, const ple::Model& model, const Workload& w, ple_kernel_path kernel_path,
                  uint32_t threads, FILE* text, std::vector<float>& outputs, std::string* precision, json* results) {
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(w.max_batch);
  options.kernel_path = kernel_path;
  options.num_threads = threads;
  options.cpus = o.cpus;
  options.cpu_mask = o.cpu_mask;
  const auto prepare_start = Clock::now();
  ple::Session session(model, options);
  const double prepare_ms = Microseconds(Clock::now() - prepare_start) / 1000;
  const ple_session_info info = session.info();
  if (precision->empty()) {
    *precision = ple::conformance::WeightPrecision(ple::rt::InternalSession(session.get())->model());
  }
  ple::Request request(model);
  if (w.has_request) request.Set(w.request_values.data(), w.request_values.size());
  if (text) {
    std::fprintf(text, "prepare: %.3f ms, %u thread%s, kernel path %s, %s weights, arena %s, packed weights %s",
                 prepare_ms, threads, threads == 1 ? "" : "s", ple_kernel_path_name(info.kernel_path),
                 precision->c_str(), Bytes(info.arena_bytes).c_str(), Bytes(info.packed_weight_bytes).c_str());
    if (info.worker_cpu_mask != 0) std::fprintf(text, ", workers on CPUs 0x%llx", (unsigned long long)info.worker_cpu_mask);
    std::fprintf(text, "\n");
  }
  SessionUnderTest s{session, request, threads, prepare_ms, info};
  for (size_t batch : o.batches) results->push_back(BenchBatch(o, w, s, batch, outputs, text));
}

// The peak resident memory: VmHWM, or getrusage's maximum where there is no /proc.
size_t PeakResident(const Memory& at_end) {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return at_end.peak ? at_end.peak : static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// Writes `doc` to --json's file, or to standard output for '-'.
void WriteJson(const std::string& path, const json& doc) {
  if (path == "-") {
    std::cout << doc.dump(2) << "\n";
    return;
  }
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

int Run(const Options& o) {
  FILE* text = o.json_path != "-" ? stdout : nullptr;  // with --json -, standard output holds the JSON alone
  const Memory at_start = ReadMemory();
  const LoadedModel loaded = LoadModel(o);
  const ple::Model& model = loaded.model;
  const Memory after_load = ReadMemory();
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;
  if (ple_kernel_path_from_name(o.kernels.c_str(), &kernel_path) != PLE_OK) {
    UsageError("unknown kernel path '" + o.kernels + "'");
  }
  const Workload w = PrepareWorkload(o, model);
  std::vector<float> outputs(w.max_batch * w.tasks);

  const std::string precision_spec =
      o.config_path.empty() ? "" : ple::convert::PrecisionPlan::Parse(o.precision).ToString();
  if (text) {
    std::fprintf(text, "model: %s (%s, %zu tasks, input row %zu floats)\n",
                 o.config_path.empty() ? o.model_path.c_str() : o.config_path.c_str(),
                 Bytes(loaded.file_bytes).c_str(), w.tasks, model.row_width());
    if (!o.config_path.empty())
      std::fprintf(text, "converted in memory: %.1f ms (%s)\n", loaded.convert_ms, precision_spec.c_str());
    std::fprintf(text, "load: %.3f ms (%s)\n", loaded.load_ms, loaded.mapped ? "mmap" : "copy");
  }
  std::string precision;  // the weights' widest-reaching quantization: int8, f16 or f32
  json results = json::array();
  for (uint32_t threads : o.threads) {
    BenchSession(o, model, w, kernel_path, threads, text, outputs, &precision, &results);
  }

  const size_t peak = PeakResident(ReadMemory());
  const size_t above_start = peak > at_start.rss ? peak - at_start.rss : 0;
  if (text) {
    std::fprintf(
        text,
        "memory: resident %s at start, %s after load, peak %s (%s above the start, %s above it and the model file)\n",
        Bytes(at_start.rss).c_str(), Bytes(after_load.rss).c_str(), Bytes(peak).c_str(), Bytes(above_start).c_str(),
        Bytes(above_start > loaded.file_bytes ? above_start - loaded.file_bytes : 0).c_str());
  }
  if (o.json_path.empty()) return 0;
  WriteJson(o.json_path, {{"tool", "ple-bench"},
                          {"version", ple_version_string()},
                          {"model", o.config_path.empty() ? o.model_path : o.config_path},
                          {"model_file_bytes", loaded.file_bytes},
                          {"precision", precision},
                          {"precision_spec", precision_spec},
                          {"input", o.input_path.empty() ? "random, seed " + std::to_string(o.seed) : o.input_path},
                          {"convert_ms", loaded.convert_ms},
                          {"load_ms", loaded.load_ms},
                          {"rss_start_bytes", at_start.rss},
                          {"rss_after_load_bytes", after_load.rss},
                          {"peak_rss_bytes", peak},
                          {"results", results}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseArguments(argc, argv);
  try {
    return Run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-bench: %s\n", e.what());
    return 1;
  }
}
