// A candidate's outputs and score never depend on its batch, its position, the thread count,
// whether the request context is reused or set again, or whether request-level inputs are
// broadcast (docs/determinism.md). Every comparison is of bytes, on every precision and
// kernel path built: conformance bundles and the bench shapes (bench-s, bench-m-dense, bench-m)
// with random weights and random candidates. Cross-platform identity of int8: bundle_check
// --compare-exact in the cross builds.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_weights.h"
#include "model_config.h"
#include "ple/ple.h"
#include "ple/ple.hpp"
#include "safetensors.h"
#include "test_util.h"

namespace {

struct Subject {
  std::string name;
  std::vector<uint8_t> bytes;
};

// The bench model `name` with random weights, converted at `precision`.
Subject BenchModel(const std::string& name, const std::string& precision) {
  const std::string config = ple::test::SourcePath("bench/models/" + name + ".json");
  const std::string dir = ple::test::MakeTempDir();
  ple::test::WriteFileBytes(dir + "/weights.safetensors",
                            ple::bench::DrawWeights(ple::convert::ReadModelConfig(config), 7));
  return {name + " " + precision,
          ple::convert::ConvertNative(config, dir + "/weights.safetensors", {},
                                      ple::convert::PrecisionPlan::Parse(precision))
              .bytes};
}

// Every precision, int8 with narrow weights ([-64, 64]; AVX2 runs them with its own kernel), and
// int8 with a scale per input feature at level 1.
std::vector<std::string> Precisions() {
  std::vector<std::string> precisions = ple::test::Precisions();
  precisions.push_back("int8,narrow");
  precisions.push_back("int8,inputs=features");  // the first layers in slices, chained (several GEMM passes)
  return precisions;
}

bool Emulated() {
  const char* value = std::getenv("PLE_TEST_EMULATED");
  return value != nullptr && std::string(value) == "1";
}

std::vector<Subject> Subjects() {
  std::vector<Subject> subjects;
  for (const std::string& precision : Precisions()) {
    for (const char* bundle : {"features_mixed", "six_tasks", "ple3_noshared_last"}) {
      subjects.push_back({std::string(bundle) + " " + precision,
                          ple::test::ConvertBundle(bundle, {}, ple::convert::PrecisionPlan::Parse(precision)).bytes});
    }
    subjects.push_back(BenchModel("bench-s", precision));
    subjects.push_back(BenchModel("bench-m-dense", precision));
    if (!Emulated()) subjects.push_back(BenchModel("bench-m", precision));  // 6.7 M embedding values
  }
  return subjects;
}

// Random values for one feature (or extra) over `rows` rows, owned here.
struct Column {
  std::string name;
  bool request = false;
  ple_feature_kind kind = PLE_FEATURE_DENSE;
  size_t width = 1;  // dense: floats per row; sequence: max_length
  std::vector<float> values;
  std::vector<int64_t> ids;
  std::vector<uint32_t> lengths;
};

// Candidates as columns: every candidate-scope feature and extra, row-major per candidate.
struct Candidates {
  std::vector<Column> columns;
  size_t count = 0;
};

Candidates RandomCandidates(const ple_model* model, size_t count, std::mt19937& rng, bool request_scope) {
  Candidates c;
  c.count = request_scope ? 1 : count;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t f = 0; f < ple_model_num_features(model); ++f) {
    if ((ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST) != request_scope) continue;
    Column column;
    column.name = ple_model_feature_name(model, f);
    column.kind = ple_model_feature_kind(model, f);
    column.width = ple_model_feature_width(model, f);
    const int64_t vocabulary = static_cast<int64_t>(ple_model_feature_vocabulary(model, f));
    std::uniform_int_distribution<int64_t> id(0, std::max<int64_t>(vocabulary - 1, 0));
    for (size_t r = 0; r < c.count; ++r) {
      switch (column.kind) {
        case PLE_FEATURE_DENSE:
          for (size_t i = 0; i < column.width; ++i) column.values.push_back(normal(rng));
          break;
        case PLE_FEATURE_SPARSE:
          column.ids.push_back(id(rng));
          break;
        case PLE_FEATURE_SEQUENCE: {
          const uint32_t length = static_cast<uint32_t>(rng() % (column.width + 1));
          column.lengths.push_back(length);
          for (uint32_t i = 0; i < length; ++i) column.ids.push_back(id(rng));
          break;
        }
      }
    }
    c.columns.push_back(column);
  }
  if (!request_scope) {
    for (size_t e = 0; e < ple_model_num_extras(model); ++e) {
      Column column;
      column.name = ple_model_extra_name(model, e);
      for (size_t r = 0; r < count; ++r) column.values.push_back(std::fabs(normal(rng)) * 100.0f);
      c.columns.push_back(column);
    }
  }
  return c;
}

// The candidates at `order` (indices into `all`), as new columns.
Candidates Pick(const Candidates& all, const std::vector<size_t>& order) {
  Candidates c;
  c.count = order.size();
  for (const Column& source : all.columns) {
    Column column = source;
    column.values.clear();
    column.ids.clear();
    column.lengths.clear();
    std::vector<size_t> id_start(all.count + 1, 0);
    for (size_t r = 0; r < all.count && source.kind == PLE_FEATURE_SEQUENCE; ++r) {
      id_start[r + 1] = id_start[r] + source.lengths[r];
    }
    for (size_t r : order) {
      switch (source.kind) {
        case PLE_FEATURE_DENSE:
          column.values.insert(column.values.end(), source.values.begin() + r * source.width,
                               source.values.begin() + (r + 1) * source.width);
          break;
        case PLE_FEATURE_SPARSE:
          column.ids.push_back(source.ids[r]);
          break;
        case PLE_FEATURE_SEQUENCE:
          column.lengths.push_back(source.lengths[r]);
          column.ids.insert(column.ids.end(), source.ids.begin() + id_start[r], source.ids.begin() + id_start[r + 1]);
          break;
      }
    }
    c.columns.push_back(column);
  }
  return c;
}

std::vector<ple_feature_values> Views(const Candidates& c) {
  std::vector<ple_feature_values> views;
  for (const Column& column : c.columns) {
    ple_feature_values v{};
    v.name = column.name.c_str();
    if (column.kind == PLE_FEATURE_DENSE) {
      v.values = column.values.data();
      v.num_values = column.values.size();
    } else {
      v.ids = column.ids.data();
      v.num_ids = column.ids.size();
      if (column.kind == PLE_FEATURE_SEQUENCE) v.lengths = column.lengths.data();
    }
    views.push_back(v);
  }
  return views;
}

// Per candidate: its outputs then its score (when the model has one), as bytes.
using Result = std::vector<std::vector<uint8_t>>;

struct Runner {
  const ple_model* model;
  ple_session* session = nullptr;
  ple_request* request = nullptr;
  const Candidates* request_values;
  bool has_score;
  size_t tasks;

  Runner(const ple_model* m, ple_kernel_path path, uint32_t threads, const Candidates* request_columns)
      : model(m), request_values(request_columns) {
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = 64;
    options.kernel_path = path;
    options.num_threads = threads;
    REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
    ple_score_params score{};
    score.struct_size = sizeof score;
    has_score = ple_model_get_score(model, &score) == PLE_OK;
    tasks = ple_model_num_tasks(model);
    if (!request_values->columns.empty()) {
      REQUIRE(ple_request_create(model, &request) == PLE_OK);
      SetRequest();
    }
  }
  ~Runner() {
    ple_request_close(&request);
    ple_session_close(&session);
  }
  void SetRequest() {
    const auto views = Views(*request_values);
    REQUIRE(ple_request_set(request, views.data(), views.size()) == PLE_OK);
  }
  Result Run(const Candidates& c) {
    std::vector<float> outputs(c.count * tasks), scores(c.count);
    const auto views = Views(c);
    REQUIRE(ple_session_run_features(session, request, views.data(), views.size(), c.count, outputs.data(),
                                     outputs.size(), has_score ? scores.data() : nullptr, has_score ? c.count : 0) ==
            PLE_OK);
    return Split(outputs, scores, c.count);
  }
  // Every row brings its request-scope values (dense-only models): no broadcast.
  Result RunRows(const Candidates& c) {
    const size_t width = ple_model_row_width(model);
    std::vector<float> rows(c.count * width);
    for (size_t r = 0; r < c.count; ++r) {
      size_t at = 0;
      for (size_t f = 0; f < ple_model_num_features(model); ++f) {
        const std::string name = ple_model_feature_name(model, f);
        const bool request_scope = ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST;
        const Candidates& source = request_scope ? *request_values : c;
        const Column* column = nullptr;
        for (const Column& candidate : source.columns) column = candidate.name == name ? &candidate : column;
        REQUIRE(column != nullptr);
        const size_t row = request_scope ? 0 : r;
        std::copy(column->values.begin() + row * column->width, column->values.begin() + (row + 1) * column->width,
                  rows.begin() + r * width + at);
        at += column->width;
      }
    }
    std::vector<float> outputs(c.count * tasks), scores(c.count);
    REQUIRE(ple_session_run(session, rows.data(), rows.size(), c.count, outputs.data(), outputs.size()) == PLE_OK);
    return Split(outputs, scores, c.count, /*with_score=*/false);
  }
  Result Split(const std::vector<float>& outputs, const std::vector<float>& scores, size_t count,
               bool with_score = true) const {
    Result result(count);
    for (size_t r = 0; r < count; ++r) {
      const auto* o = reinterpret_cast<const uint8_t*>(outputs.data() + r * tasks);
      result[r].assign(o, o + tasks * sizeof(float));
      if (has_score && with_score) {
        const auto* s = reinterpret_cast<const uint8_t*>(&scores[r]);
        result[r].insert(result[r].end(), s, s + sizeof(float));
      }
    }
    return result;
  }
};

bool DenseOnly(const ple_model* model) {
  for (size_t f = 0; f < ple_model_num_features(model); ++f) {
    if (ple_model_feature_kind(model, f) != PLE_FEATURE_DENSE) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("determinism: a candidate's bytes do not depend on batch, position, threads, request reuse or broadcast",
          "[determinism]") {
  const ple::test::AlwaysSplitThreads split;  // 24 candidates: every worker takes a share
  constexpr size_t kCandidates = 24;
  for (const Subject& subject : Subjects()) {
    ple::test::AlignedBuffer buffer(subject.bytes);
    ple_model* model = nullptr;
    REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
    std::mt19937 rng(12345);
    const Candidates request = RandomCandidates(model, 1, rng, /*request_scope=*/true);
    const Candidates all = RandomCandidates(model, kCandidates, rng, /*request_scope=*/false);
    const Candidates others = RandomCandidates(model, kCandidates, rng, /*request_scope=*/false);
    for (ple_kernel_path path : ple::test::KernelPaths()) {
      INFO(subject.name << ", kernel path " << ple_kernel_path_name(path));
      // The reference: each candidate alone, one thread, the request set just before.
      Result alone(kCandidates);
      {
        Runner runner(model, path, 1, &request);
        for (size_t i = 0; i < kCandidates; ++i) {
          if (runner.request != nullptr) runner.SetRequest();
          alone[i] = runner.Run(Pick(all, {i}))[0];
        }
      }
      // XNNPACK's pool spins while it waits: more threads than cores would measure the machine.
      // WebAssembly builds run one thread (num_threads > 1 is PLE_ERROR_UNSUPPORTED there).
#if defined(__EMSCRIPTEN__)
      const std::vector<uint32_t> thread_counts = {1};
#else
      const std::vector<uint32_t> thread_counts =
          path == PLE_KERNELS_XNNPACK ? std::vector<uint32_t>{1, 2} : std::vector<uint32_t>{1, 2, 3, 7};
#endif
      for (uint32_t threads : thread_counts) {
        INFO(threads << " thread(s)");
        Runner runner(model, path, threads, &request);  // the request set once, reused below
        std::vector<size_t> order(kCandidates);
        for (size_t i = 0; i < kCandidates; ++i) order[i] = i;
        const Result whole = runner.Run(all);
        for (size_t i = 0; i < kCandidates; ++i) REQUIRE(whole[i] == alone[i]);
        std::shuffle(order.begin(), order.end(), rng);  // shuffled
        const Result shuffled = runner.Run(Pick(all, order));
        for (size_t i = 0; i < kCandidates; ++i) REQUIRE(shuffled[i] == alone[order[i]]);
        for (size_t first = 0; first < kCandidates; first += 7) {  // split into pieces of 7
          std::vector<size_t> piece;
          for (size_t i = first; i < std::min(first + 7, kCandidates); ++i) piece.push_back(i);
          const Result part = runner.Run(Pick(all, piece));
          for (size_t j = 0; j < piece.size(); ++j) REQUIRE(part[j] == alone[piece[j]]);
        }
        // Padded: a candidate at some position among 19 others.
        Candidates mixed_source = all;
        for (size_t i = 0; i < mixed_source.columns.size(); ++i) {
          Column& column = mixed_source.columns[i];
          const Column& extra = others.columns[i];
          column.values.insert(column.values.end(), extra.values.begin(), extra.values.end());
          column.ids.insert(column.ids.end(), extra.ids.begin(), extra.ids.end());
          column.lengths.insert(column.lengths.end(), extra.lengths.begin(), extra.lengths.end());
        }
        mixed_source.count = 2 * kCandidates;
        for (size_t i = 0; i < kCandidates; i += 8) {
          std::vector<size_t> padded;
          for (size_t j = 0; j < 20; ++j) padded.push_back(kCandidates + (i + j) % kCandidates);
          const size_t position = (i * 7) % 20;
          padded[position] = i;
          REQUIRE(runner.Run(Pick(mixed_source, padded))[position] == alone[i]);
        }
        if (runner.request != nullptr) {  // the request set again (fresh) before the run
          runner.SetRequest();
          const Result fresh = runner.Run(all);
          for (size_t i = 0; i < kCandidates; ++i) REQUIRE(fresh[i] == alone[i]);
        }
        if (DenseOnly(model)) {  // no broadcast: every row brings the request-scope values
          const Result rows = runner.RunRows(all);
          const size_t output_bytes = runner.tasks * sizeof(float);
          for (size_t i = 0; i < kCandidates; ++i) {
            REQUIRE(std::vector<uint8_t>(alone[i].begin(), alone[i].begin() + output_bytes) == rows[i]);
          }
        }
      }
    }
    ple_model_close(&model);
  }
}
namespace {

// The six_tasks bundle converted to `precision`, and its 1000 candidates' input rows.
struct SixTasks {
  explicit SixTasks(const std::string& precision)
      : buffer(ple::test::ConvertBundle("six_tasks", {}, ple::convert::PrecisionPlan::Parse(precision)).bytes),
        model(ple::Model::OpenBuffer(buffer.data(), buffer.size())),
        inputs(ple::convert::SafeTensorsFile::Read(ple::test::BundlePath("six_tasks") + "/data.safetensors")
                   .Find("inputs")
                   ->ToFloat("inputs")),
        width(model.row_width()),
        tasks(model.tasks().size()),
        n(inputs.size() / width) {}
  ple::test::AlignedBuffer buffer;
  ple::Model model;
  std::vector<float> inputs;
  size_t width, tasks, n;
};

}  // namespace

TEST_CASE("determinism: 1000 candidates in one batch (crossing tiles) or in chunks of odd sizes", "[determinism]") {
  for (const std::string& precision : Precisions()) {
  const SixTasks six(precision);
  const ple::Model& model = six.model;
  const std::vector<float>& inputs = six.inputs;
  const size_t width = six.width, tasks = six.tasks, n = six.n;
  REQUIRE(n == 1000);

  for (ple_kernel_path path : ple::test::KernelPaths()) {
    INFO("precision " << precision << ", kernel path " << ple_kernel_path_name(path));
    ple::SessionOptions options;
    options.max_batch = 1000;
    options.kernel_path = path;
    ple::Session session(model, options);
    std::vector<float> whole(n * tasks);
    session.Run(inputs.data(), n, whole.data());
    for (size_t chunk : {1, 3, 7, 64, 129, 500}) {
      std::vector<float> pieces(n * tasks);
      for (size_t first = 0; first < n; first += chunk) {
        const size_t count = std::min(chunk, n - first);
        session.Run(inputs.data() + first * width, count, pieces.data() + first * tasks);
      }
      INFO("chunks of " << chunk);
      CHECK(std::memcmp(pieces.data(), whole.data(), whole.size() * sizeof(float)) == 0);
    }
  }
  }
}

// Tile rows come from max_batch and from the per-worker memory budget (session_memory.h,
// TileRows): every tile size a session may choose gives the same bytes. Forced here through
// max_batch, 1000 candidates run in batches of max_batch.
TEST_CASE("determinism: every tile size gives the same bytes", "[determinism]") {
  for (const std::string& precision : Precisions()) {
    const SixTasks six(precision);
    const ple::Model& model = six.model;
    const std::vector<float>& inputs = six.inputs;
    const size_t width = six.width, tasks = six.tasks, n = six.n;
    for (ple_kernel_path path : ple::test::KernelPaths()) {
      std::vector<float> first_tiles;
      for (uint32_t tile : {128u, 112u, 96u, 64u, 48u, 32u, 16u}) {
        INFO("precision " << precision << ", kernel path " << ple_kernel_path_name(path) << ", tiles of " << tile);
        ple::SessionOptions options;
        options.max_batch = tile;
        options.kernel_path = path;
        ple::Session session(model, options);
        CHECK(session.info().tile_rows == tile);
        std::vector<float> out(n * tasks);
        for (size_t first = 0; first < n; first += tile) {
          const size_t count = std::min<size_t>(tile, n - first);
          session.Run(inputs.data() + first * width, count, out.data() + first * tasks);
        }
        if (first_tiles.empty()) {
          first_tiles = out;
        } else {
          CHECK(std::memcmp(out.data(), first_tiles.data(), out.size() * sizeof(float)) == 0);
        }
      }
    }
  }
}
