// ple_microbench: what docs/performance.md reports, measured side by side in one run on one core:
//   peak/...    this machine's single-core peaks: a tiny FMA loop and an int8 dot-product loop
//               per instruction set (16 independent accumulators, nothing else);
//   kernel/...  the GEMM tile kernels of every kernel path on bench-m's level-1 shape
//               (200 rows x 384 inputs x 1536 outputs, in session tiles of 128 rows);
//   model/...   whole models (bench-s, bench-m, bench-m-dense, bench-l) at batch 1, 50, 200 and
//               1000: float32 on our kernels and on XNNPACK, float16 and int8 on ours, with the
//               request-level broadcast (a request context) and, for dense-input models,
//               without it (every row brings its request values: ple_session_run).
// Counters: macs_per_s (useful multiply-adds: padding excluded; with broadcast the request part
// counts once per request) and pct_peak, against the best peak of the same kind (float32 or
// int8) this run measured before the benchmarks. Models come from PLE_BENCH_MODELS (default:
// the build's bench/models, which bench/run.sh fills) as <name>-<precision>.ple.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "capi/c_api_internal.h"
#include "kernels/cpu_features.h"
#include "kernels/kernel_set.h"
#include "load/model.h"
#include "ple/ple.h"

namespace {

// ---------------------------------------------------------------------------------------------
// Peaks.

struct PeakLoop {
  const char* name;
  bool int8;
  double macs_per_iteration;
  double (*run)(int64_t iterations);  // returns a checksum
};

#if defined(__x86_64__)
// Independent accumulators: enough to hide the latency, few enough to stay in registers
// (16 of the 32 zmm registers; 12 of the 16 ymm registers the VEX encodings can name).
constexpr int kChains = 16;
constexpr int kChainsYmm = 12;

__attribute__((target("avx2,fma"))) double FmaAvx2(int64_t iterations) {
  __m256 acc[kChainsYmm];
  for (int i = 0; i < kChainsYmm; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChainsYmm; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  for (int i = 1; i < kChainsYmm; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);  // every chain is live
  float lanes[8];
  _mm256_storeu_ps(lanes, acc[0]);
  return lanes[0];
}

// The AVX2 integer loops below multiply loop-invariant values: an empty asm statement marks
// the inputs as changed every iteration, so the compiler cannot hoist the multiplies out of the
// loop (it did: the loops then timed only vpaddd). 4 inputs x 2 weight vectors make 8
// independent products per iteration, summed into 4 accumulators (with 8, GCC kept some on
// the stack).
constexpr int kIntChains = 8;
constexpr int kIntAccumulators = 4;
#define PLE_OPAQUE4(a, b, c, d) __asm__ volatile("" : "+x"(a), "+x"(b), "+x"(c), "+x"(d))

// Exact uint8 x int8 products without VNNI, as ple's AVX2 int8 kernel makes them: vpmaddwd on
// int16 pairs, 16 multiply-adds into int32 per instruction, plus the vpaddd that accumulates.
__attribute__((target("avx2"))) double MaddAvx2(int64_t iterations) {
  __m256i acc[kIntAccumulators];
  for (int i = 0; i < kIntAccumulators; ++i) acc[i] = _mm256_set1_epi32(i);
  __m256i x0 = _mm256_set1_epi16(3), x1 = _mm256_set1_epi16(5), x2 = _mm256_set1_epi16(7), x3 = _mm256_set1_epi16(9);
  alignas(32) int16_t w[2][16];
  for (int i = 0; i < 16; ++i) w[0][i] = static_cast<int16_t>(-2 - i), w[1][i] = static_cast<int16_t>(i);
  for (int64_t it = 0; it < iterations; ++it) {
    PLE_OPAQUE4(x0, x1, x2, x3);
    const __m256i x[4] = {x0, x1, x2, x3};
    for (int i = 0; i < kIntChains; ++i) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[i >> 2]));
      acc[i & 3] = _mm256_add_epi32(acc[i & 3], _mm256_madd_epi16(x[i & 3], wv));
    }
  }
  for (int i = 1; i < kIntAccumulators; ++i) acc[0] = _mm256_add_epi32(acc[0], acc[i]);  // every chain is live
  return _mm256_extract_epi32(acc[0], 0);
}

// vpmaddubsw (uint8 x int8 pairs summed into int16) then vpmaddwd by ones into int32, 32
// multiply-adds per pair of instructions, plus the vpaddd. Exact for weights in [-64, 64]
// (ple's narrow int8 weights); ONNX Runtime's MLAS uses it on any int8 weights, where it
// saturates.
__attribute__((target("avx2"))) double MaddubsAvx2(int64_t iterations) {
  __m256i acc[kIntAccumulators];
  for (int i = 0; i < kIntAccumulators; ++i) acc[i] = _mm256_set1_epi32(i);
  __m256i x0 = _mm256_set1_epi8(3), x1 = _mm256_set1_epi8(5), x2 = _mm256_set1_epi8(7), x3 = _mm256_set1_epi8(9);
  const __m256i ones = _mm256_set1_epi16(1);
  alignas(32) int8_t w[2][32];
  for (int i = 0; i < 32; ++i) w[0][i] = static_cast<int8_t>(-2 - i), w[1][i] = static_cast<int8_t>(i);
  for (int64_t it = 0; it < iterations; ++it) {
    PLE_OPAQUE4(x0, x1, x2, x3);
    const __m256i x[4] = {x0, x1, x2, x3};
    for (int i = 0; i < kIntChains; ++i) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[i >> 2]));
      acc[i & 3] = _mm256_add_epi32(acc[i & 3], _mm256_madd_epi16(_mm256_maddubs_epi16(x[i & 3], wv), ones));
    }
  }
  for (int i = 1; i < kIntAccumulators; ++i) acc[0] = _mm256_add_epi32(acc[0], acc[i]);  // every chain is live
  return _mm256_extract_epi32(acc[0], 0);
}
#undef PLE_OPAQUE4

__attribute__((target("avx512f"))) double FmaAvx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);  // every chain is live
  float lanes[16];
  _mm512_storeu_ps(lanes, acc[0]);
  return lanes[0];
}

__attribute__((target("avx512f,avx512vnni"))) double DotAvx512Vnni(int64_t iterations) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_epi32(acc[0], acc[i]);  // every chain is live
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, acc[0]);
  return lanes[0];
}

__attribute__((target("avx2,avxvnni"))) double DotAvxVnni(int64_t iterations) {
  __m256i acc[kChainsYmm];
  for (int i = 0; i < kChainsYmm; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChainsYmm; ++i) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
  }
  for (int i = 1; i < kChainsYmm; ++i) acc[0] = _mm256_add_epi32(acc[0], acc[i]);  // every chain is live
  return _mm256_extract_epi32(acc[0], 0);
}

std::vector<PeakLoop> PeakLoops() {
  const ple::rt::CpuFeatures& cpu = ple::rt::GetCpuFeatures();
  std::vector<PeakLoop> loops;
  if (cpu.x86_avx2) loops.push_back({"f32_fma_avx2", false, 8.0 * kChainsYmm, FmaAvx2});
  if (cpu.x86_avx512) loops.push_back({"f32_fma_avx512", false, 16.0 * kChains, FmaAvx512});
  if (cpu.x86_avx2) loops.push_back({"int8_madd_avx2", true, 16.0 * kIntChains, MaddAvx2});
  if (cpu.x86_avx2) loops.push_back({"int8_maddubs_avx2", true, 32.0 * kIntChains, MaddubsAvx2});
  if (cpu.x86_avx_vnni) loops.push_back({"int8_dot_avxvnni", true, 32.0 * kChainsYmm, DotAvxVnni});
  if (cpu.x86_avx512_vnni) loops.push_back({"int8_dot_avx512vnni", true, 64.0 * kChains, DotAvx512Vnni});
  return loops;
}
#else
std::vector<PeakLoop> PeakLoops() { return {}; }
#endif

// The best rate over timed runs of ~10 ms each, for at least half a second (the peak is the
// fastest the core goes; a shared machine's other load only makes some runs slower).
double MeasurePeak(const PeakLoop& loop) {
  const int64_t iterations = static_cast<int64_t>(1e9 / loop.macs_per_iteration);  // ~10 ms at 100 G/s
  double best = 0.0, total = 0.0;
  while (total < 0.5) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(loop.run(iterations));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    total += seconds;
    best = std::max(best, loop.macs_per_iteration * static_cast<double>(iterations) / seconds);
  }
  return best;
}

double g_peak_f32 = 0.0, g_peak_int8 = 0.0;
std::map<std::string, double> g_peaks;  // each peak loop's rate, by name

// The peak loop of the instruction a kernel multiplies with, or "" when none is measured.
std::string OwnPeakLoop(const std::string& path, int dtype /*0 f32, 1 f16, 2 int8, 3 int8 narrow*/) {
  if (dtype <= 1) {
    if (path == "avx2" || path == "avxvnni") return "f32_fma_avx2";
    if (path == "avx512" || path == "avx512vnni") return "f32_fma_avx512";
    return "";
  }
  if (path == "avx2") return dtype == 3 ? "int8_maddubs_avx2" : "int8_madd_avx2";
  if (path == "avxvnni") return "int8_dot_avxvnni";
  if (path == "avx512vnni") return "int8_dot_avx512vnni";
  return "";
}

void SetPercentOfPeak(benchmark::State& state, double macs_per_iteration, bool int8) {
  state.counters["macs_per_s"] = benchmark::Counter(macs_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
  const double peak = int8 ? g_peak_int8 : g_peak_f32;
  if (peak > 0.0) {
    // macs_per_s / peak * 100, as a rate counter: (macs / peak * 100) per iteration per second.
    state.counters["pct_peak"] =
        benchmark::Counter(macs_per_iteration / peak * 100.0, benchmark::Counter::kIsIterationInvariantRate);
  }
}

void BenchPeak(benchmark::State& state, PeakLoop loop) {
  constexpr int64_t kIterations = 1 << 14;
  for (auto _ : state) benchmark::DoNotOptimize(loop.run(kIterations));
  state.counters["macs_per_s"] =
      benchmark::Counter(loop.macs_per_iteration * kIterations, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------------------------
// GEMM tile kernels on bench-m's level-1 shape, as a session runs them: per tile of 128 rows,
// every 16-column tile in turn (int8: the rows quantized first).

constexpr size_t kSessionTile = 128;

// bench-m-dense's GEMMs at batch 200 without broadcast: level 1's experts and gates on the
// request and the candidate columns (the whole row as one: 384), level 2's per-stream groups,
// the towers' layers.
struct GemmShape {
  size_t rows, k, n;
};
constexpr GemmShape kKernelShapes[] = {{200, 384, 1536}, {200, 216, 1616}, {200, 168, 1616}, {200, 256, 272},
                                       {200, 256, 256},  {200, 128, 64},   {200, 64, 16}};

// dtype 3: int8 with narrow weights ([-64, 64]) through qu8s8_gemm_narrow. Besides pct_peak
// (against the best peak of its kind), pct_own_peak is against the peak loop of the instruction
// the kernel multiplies with (OwnPeakLoop). `gemm_only` (int8): the rows are quantized once
// before timing, so the time is the GEMM kernel's alone; otherwise each iteration quantizes
// them first, as a session does (on the small shapes that pass takes most of the time).
void BenchKernel(benchmark::State& state, const ple::rt::KernelSet* set, int dtype /*0 f32, 1 f16, 2 int8, 3 narrow*/,
                 GemmShape shape, bool gemm_only) {
  const size_t kKernelRows = shape.rows, kKernelK = shape.k, kKernelN = shape.n;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> a(kKernelRows * kKernelK), out(kKernelRows * kKernelN), bias(kKernelN);
  for (float& v : a) v = normal(rng);
  for (float& v : bias) v = normal(rng);
  std::vector<float> w32(kKernelK * kKernelN);
  for (float& v : w32) v = normal(rng) * 0.05f;
  std::vector<uint16_t> w16(kKernelK * kKernelN, 0x2c00);  // 0.0625
  const size_t blocks = kKernelK / 4;
  std::vector<int8_t> w8(blocks * 64 * (kKernelN / 16));
  const int limit = dtype == 3 ? ple::kNarrowInt8Limit : 127;
  for (int8_t& v : w8) v = static_cast<int8_t>(static_cast<int>(rng() % (2 * limit + 1)) - limit);
  std::vector<float> w_scales(kKernelN, 0.01f), row_scales(kKernelRows);
  std::vector<int32_t> w_sums(kKernelN, 0), zero_points(kKernelRows);
  std::vector<uint8_t> q(kKernelRows * kKernelK);
  if (gemm_only) {
    set->f32_qu8_quantize(kKernelRows, kKernelK, a.data(), kKernelK, q.data(), kKernelK, kKernelK, row_scales.data(),
                          zero_points.data());
  }
  std::vector<ple::rt::kernels::TileOutput> outputs(kKernelN / 16);
  for (auto _ : state) {
    for (size_t first = 0; first < kKernelRows; first += kSessionTile) {
      const size_t rows = std::min(kSessionTile, kKernelRows - first);
      const float* x = a.data() + first * kKernelK;
      uint8_t* rows_q = q.data() + (gemm_only ? first * kKernelK : 0);
      float* rows_scales = row_scales.data() + (gemm_only ? first : 0);
      int32_t* rows_zero_points = zero_points.data() + (gemm_only ? first : 0);
      for (size_t t = 0; t < kKernelN / 16; ++t) {  // as a session fills them: ReLU fused
        outputs[t] = {out.data() + first * kKernelN + 16 * t, bias.data() + 16 * t, static_cast<uint32_t>(kKernelN), 16, 1, 0};
      }
      if (dtype == 0) {
        set->f32_gemm(rows, kKernelK, x, kKernelK, w32.data(), kKernelK * 16, kKernelN / 16, outputs.data(), 0);
      } else if (dtype == 1) {
        set->f16_gemm(rows, kKernelK, x, kKernelK, w16.data(), kKernelK * 16, kKernelN / 16, outputs.data(), 0);
      } else {
        if (!gemm_only) {
          set->f32_qu8_quantize(rows, kKernelK, x, kKernelK, rows_q, kKernelK, kKernelK, rows_scales,
                                rows_zero_points);
        }
        const auto gemm = dtype == 3 ? set->qu8s8_gemm_narrow : set->qu8s8_gemm;
        gemm(rows, blocks, rows_q, kKernelK, w8.data(), blocks * 64, kKernelN / 16, rows_scales, rows_zero_points,
             w_scales.data(), w_sums.data(), outputs.data(), 0);
      }
    }
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(kKernelRows) * kKernelK * kKernelN;
  SetPercentOfPeak(state, macs, dtype >= 2);
  const auto own = g_peaks.find(OwnPeakLoop(set->name, dtype));
  if (own != g_peaks.end()) {
    state.counters["pct_own_peak"] = benchmark::Counter(macs / own->second * 100.0, benchmark::Counter::kIsIterationInvariantRate);
  }
}

// ---------------------------------------------------------------------------------------------
// Whole models.

void Check(ple_status status, const char* what) {
  if (status != PLE_OK) {
    std::fprintf(stderr, "ple_microbench: %s: %s\n", what, ple_last_error());
    std::exit(1);
  }
}

// Useful multiply-adds of one run: every layer in*out per candidate, except the request
// columns of a split first layer, which a request context computes once per request.
double RunMacs(const ple::rt::LoadedModel& model, size_t batch, bool broadcast) {
  const bool split = model.request_first() && model.request_width() > 0 && model.request_width() < model.row_width();
  double per_candidate = 0.0, per_request = 0.0;
  auto add = [&](const ple::rt::Mlp& mlp, bool first_level) {
    for (size_t i = 0; i < mlp.layers.size(); ++i) {
      const auto& layer = mlp.layers[i];
      if (first_level && i == 0 && split && broadcast) {
        per_request += static_cast<double>(model.request_width()) * layer.out;
        per_candidate += static_cast<double>(layer.in - model.request_width()) * layer.out;
      } else {
        per_candidate += static_cast<double>(layer.in) * layer.out;
      }
    }
  };
  for (size_t l = 0; l < model.levels().size(); ++l) {
    for (const auto& e : model.levels()[l].experts) add(e.mlp, l == 0);
    for (const auto& g : model.levels()[l].gates) add(g.mlp, l == 0);
  }
  for (const auto& t : model.towers()) add(t.mlp, false);
  return per_candidate * batch + per_request;
}

// Deterministic inputs for one model: every feature's values for `batch` candidates (and one
// request), ids inside each table.
struct ModelInputs {
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int64_t>> ids;
  std::vector<ple_feature_values> request, candidates;
  std::vector<float> rows;  // dense-only models: ple_session_run's rows (request values repeated)
};

ModelInputs MakeInputs(const ple_model* model, size_t batch) {
  ModelInputs in;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t features = ple_model_num_features(model), extras = ple_model_num_extras(model);
  in.floats.resize(features + extras);
  in.ids.resize(features);
  bool dense_only = true;
  for (size_t f = 0; f < features; ++f) {
    const bool request = ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST;
    const ple_feature_kind kind = ple_model_feature_kind(model, f);
    const size_t count = request ? 1 : batch;
    ple_feature_values v = {ple_model_feature_name(model, f), nullptr, 0, nullptr, 0, nullptr};
    if (kind == PLE_FEATURE_DENSE) {
      in.floats[f].resize(count * ple_model_feature_width(model, f));
      for (float& x : in.floats[f]) x = normal(rng);
      v.values = in.floats[f].data();
      v.num_values = in.floats[f].size();
    } else {
      dense_only = false;
      const size_t per_row = kind == PLE_FEATURE_SEQUENCE ? ple_model_feature_width(model, f) : 1;  // max_length
      const size_t vocabulary = ple_model_feature_vocabulary(model, f);
      in.ids[f].resize(count * per_row);
      for (int64_t& id : in.ids[f]) id = 1 + static_cast<int64_t>(rng() % (vocabulary - 1));
      v.ids = in.ids[f].data();
      v.num_ids = in.ids[f].size();
    }
    (request ? in.request : in.candidates).push_back(v);
  }
  for (size_t e = 0; e < extras; ++e) {
    in.floats[features + e].assign(batch, 60.0f);
    in.candidates.push_back({ple_model_extra_name(model, e), in.floats[features + e].data(), batch, nullptr, 0, nullptr});
  }
  if (dense_only) {
    const size_t width = ple_model_row_width(model);
    in.rows.resize(batch * width);
    for (size_t r = 0; r < batch; ++r) {
      size_t offset = 0;
      for (size_t f = 0; f < features; ++f) {
        const size_t w = ple_model_feature_width(model, f);
        const size_t source = ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST ? 0 : r;
        std::copy(in.floats[f].begin() + source * w, in.floats[f].begin() + (source + 1) * w,
                  in.rows.begin() + r * width + offset);
        offset += w;
      }
    }
  }
  return in;
}

bool DenseOnly(const ple_model* model) {
  for (size_t f = 0; f < ple_model_num_features(model); ++f) {
    if (ple_model_feature_kind(model, f) != PLE_FEATURE_DENSE) return false;
  }
  return true;
}

struct ModelCase {
  std::string name, precision;
  ple_model* model = nullptr;
};

void BenchModel(benchmark::State& state, const ModelCase* c, ple_kernel_path path, size_t batch, bool broadcast) {
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = static_cast<uint32_t>(batch);
  options.kernel_path = path;
  ple_session* session = nullptr;
  Check(ple_session_create(c->model, &options, &session), "session");
  ModelInputs in = MakeInputs(c->model, batch);
  const size_t tasks = ple_model_num_tasks(c->model);
  std::vector<float> outputs(batch * tasks);
  ple_request* request = nullptr;
  if (broadcast && !in.request.empty()) {
    Check(ple_request_create(c->model, &request), "request");
    Check(ple_request_set(request, in.request.data(), in.request.size()), "request set");
  }
  for (auto _ : state) {
    if (broadcast) {
      // A new request each time (ple_request_set), so its request part is computed in every run.
      if (request != nullptr) Check(ple_request_set(request, in.request.data(), in.request.size()), "request set");
      Check(ple_session_run_features(session, request, in.candidates.data(), in.candidates.size(), batch,
                                     outputs.data(), outputs.size(), nullptr, 0),
            "run");
    } else {
      Check(ple_session_run(session, in.rows.data(), in.rows.size(), batch, outputs.data(), outputs.size()), "run");
    }
    benchmark::DoNotOptimize(outputs.data());
  }
  const auto& model = ple::rt::InternalSession(session)->model();
  SetPercentOfPeak(state, RunMacs(model, batch, broadcast && request != nullptr), c->precision == "int8");
  state.counters["candidates_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  ple_request_close(&request);
  ple_session_close(&session);
}

std::string ModelsDirectory() {
  const char* env = std::getenv("PLE_BENCH_MODELS");
  return env != nullptr ? env : PLE_BENCH_DEFAULT_MODELS;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (const PeakLoop& loop : PeakLoops()) {
    const double rate = MeasurePeak(loop);
    double& peak = loop.int8 ? g_peak_int8 : g_peak_f32;
    peak = std::max(peak, rate);
    g_peaks[loop.name] = rate;
    std::fprintf(stderr, "ple_microbench: peak %s: %.1f G multiply-adds/s\n", loop.name, rate / 1e9);
    benchmark::RegisterBenchmark((std::string("peak/") + loop.name).c_str(), BenchPeak, loop);
  }
  std::fprintf(stderr, "ple_microbench: percentages against f32 %.1f G/s, int8 %.1f G/s\n", g_peak_f32 / 1e9,
               g_peak_int8 / 1e9);

  for (ple_kernel_path path : ple::rt::AvailableKernelPaths()) {
    if (path == PLE_KERNELS_XNNPACK) continue;
    const ple::rt::KernelSet* set = ple::rt::FindKernelSet(path);
    for (const GemmShape& shape : kKernelShapes) {
      for (int dtype : {0, 1, 2, 3}) {
        if (dtype == 3 && set->qu8s8_gemm_narrow == set->qu8s8_gemm) continue;  // no narrow kernel of its own
        const char* names[] = {"f32", "f16", "int8", "int8narrow"};
        const std::string label = "kernel/" + std::string(set->name) + "/" + names[dtype] + "/" +
                                  std::to_string(shape.rows) + "x" + std::to_string(shape.k) + "x" +
                                  std::to_string(shape.n);
        benchmark::RegisterBenchmark(label.c_str(), BenchKernel, set, dtype, shape, false)->Unit(benchmark::kMicrosecond);
        if (dtype >= 2) {
          benchmark::RegisterBenchmark((label + "/gemm_only").c_str(), BenchKernel, set, dtype, shape, true)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }

  static std::vector<std::unique_ptr<ModelCase>> cases;
  const ple_kernel_path best = [] {
    ple_kernel_path p = PLE_KERNELS_REFERENCE;
    for (ple_kernel_path q : ple::rt::AvailableKernelPaths()) {
      if (q != PLE_KERNELS_REFERENCE && q != PLE_KERNELS_XNNPACK && p == PLE_KERNELS_REFERENCE) p = q;
    }
    return p;
  }();
  for (const char* name : {"bench-s", "bench-m-dense", "bench-m", "bench-l"}) {
    for (const char* precision : {"f32", "f16", "int8"}) {
      const std::string path = ModelsDirectory() + "/" + name + "-" + precision + ".ple";
      auto c = std::make_unique<ModelCase>();
      c->name = name;
      c->precision = precision;
      if (ple_model_open_file(path.c_str(), &c->model) != PLE_OK) {
        std::fprintf(stderr, "ple_microbench: %s: %s (bench/run.sh makes the bench models): skipped\n", path.c_str(),
                     ple_last_error());
        continue;
      }
      std::vector<ple_kernel_path> paths = {best};
      if (std::string(precision) == "f32" && ple_kernel_path_available(PLE_KERNELS_XNNPACK)) {
        paths.push_back(PLE_KERNELS_XNNPACK);
      }
      const bool dense_only = DenseOnly(c->model);
      for (ple_kernel_path kernel : paths) {
        for (bool broadcast : {true, false}) {
          if (!broadcast && !dense_only) continue;  // feature models always run with their request
          for (size_t batch : {1, 50, 200, 1000}) {
            const std::string label = "model/" + std::string(name) + "/" + precision + "/" +
                                      ple_kernel_path_name(kernel) + (broadcast ? "/broadcast" : "/per_row") +
                                      "/batch:" + std::to_string(batch);
            benchmark::RegisterBenchmark(label.c_str(), BenchModel, c.get(), kernel, batch, broadcast)
                ->Unit(benchmark::kMicrosecond);
          }
        }
      }
      cases.push_back(std::move(c));
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (auto& c : cases) ple_model_close(&c->model);
  return 0;
}
