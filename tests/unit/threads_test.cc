// Sessions with several threads (ple_session_options.num_threads): every conformance bundle's
// outputs, scores and gate weights are the same bytes with 1, 2, 3 and 7 threads (emulated
// runs: 1 and 3) on every kernel
// path and precision; many application threads, each with its own multi-threaded session on one
// shared model, get the single-thread results (the ThreadSanitizer build runs this file);
// profiling names its stages and reads no clock when off.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <thread>

#include "conformance.h"
#include "ple/ple.hpp"
#include "test_util.h"

#ifndef __EMSCRIPTEN__  // WebAssembly builds run one thread
namespace {

using AlwaysSplit = ple::test::AlwaysSplitThreads;

bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::vector<std::string> AllBundleDirectories() {
  std::vector<std::string> directories;
  for (const auto& entry : std::filesystem::directory_iterator(ple::test::SourcePath("tests/bundles"))) {
    if (std::filesystem::exists(entry.path() / "bundle.json")) directories.push_back(entry.path().string());
  }
  std::sort(directories.begin(), directories.end());
  return directories;
}

// 2, 3 and 7; with PLE_TEST_SCALE=reduced (emulated runs) 3 only.
std::vector<uint32_t> ThreadCounts() {
  const char* scale = std::getenv("PLE_TEST_SCALE");
  if (scale != nullptr && std::string(scale) == "reduced") return {3};
  return {2, 3, 7};
}

}  // namespace

TEST_CASE("threads: every bundle gives the same bytes with 1, 2, 3 and 7 threads", "[threads]") {
  const AlwaysSplit split;
  const std::string temp = ple::test::MakeTempDir();
  REQUIRE(!temp.empty());
  const std::vector<std::string> bundles = AllBundleDirectories();
  REQUIRE(bundles.size() >= 18);
  size_t split_by_seven = 0;
  for (const std::string& bundle : bundles) {
    for (const std::string& precision : ple::test::Precisions()) {
      ple::conformance::BundleRunOptions options;
      options.precision = ple::convert::PrecisionPlan::ForName(precision);
      options.model_path = temp + "/model.ple";
      ple::test::WriteFileBytes(options.model_path, ple::conformance::ConvertBundleModel(bundle, options));
      for (ple_kernel_path path : ple::test::KernelPaths()) {
        INFO(bundle << ", " << precision << ", kernel path " << ple_kernel_path_name(path));
        options.num_threads = 1;
        const ple::conformance::BundleReport one = ple::conformance::RunBundle(bundle, path, options);
        if (one.candidates >= 7 * 8 && path == PLE_KERNELS_REFERENCE) ++split_by_seven;  // 7 workers of 8 rows
        CHECK(one.per_row_identical);
        for (uint32_t threads : ThreadCounts()) {
          // XNNPACK's pthreadpool spins while it waits for its threads: more threads than cores
          // crawl (measured: 100x slower with 7 threads on 2 cores).
          if (path == PLE_KERNELS_XNNPACK && threads > std::thread::hardware_concurrency()) continue;
          INFO(threads << " threads");
          options.num_threads = threads;
          const ple::conformance::BundleReport many = ple::conformance::RunBundle(bundle, path, options);
          CHECK(SameBytes(many.output_values, one.output_values));
          CHECK(SameBytes(many.score_values, one.score_values));
          CHECK(SameBytes(many.gate_values, one.gate_values));
          CHECK(many.per_row_identical);
        }
      }
    }
  }
  CHECK(split_by_seven >= 10 * 3);  // most bundles are split across all 7 workers, in each precision
  std::filesystem::remove_all(temp);
}

TEST_CASE("threads: application threads with multi-threaded sessions on one shared model", "[threads]") {
  const AlwaysSplit split;
  const auto bytes = ple::test::ConvertBundle("six_tasks", {}, ple::convert::PrecisionPlan::ForName("int8")).bytes;
  ple::test::AlignedBuffer buffer(bytes);
  ple::Model model = ple::Model::OpenBuffer(buffer.data(), buffer.size());
  const size_t width = model.row_width(), tasks = model.tasks().size(), n = 300;
  std::vector<float> inputs(n * width);
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(n);
  std::vector<float> expected(n * tasks);
  ple::Session(model, options).Run(inputs.data(), n, expected.data());

  constexpr size_t kAppThreads = 6;
  std::vector<std::vector<float>> results(kAppThreads, std::vector<float>(n * tasks));
  std::vector<int> ok(kAppThreads, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kAppThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        ple::SessionOptions mine = options;
        mine.num_threads = static_cast<uint32_t>(1 + t % 4);
        ple::Session session(model, mine);
        for (int repeat = 0; repeat < 5; ++repeat) session.Run(inputs.data(), n, results[t].data());
        ok[t] = 1;
      } catch (const ple::Error&) {
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < kAppThreads; ++t) {
    INFO("application thread " << t);
    CHECK(ok[t]);
    CHECK(SameBytes(results[t], expected));
  }
}

TEST_CASE("threads: a worker's error reaches the caller", "[threads]") {
  const AlwaysSplit split;
  // features_mixed: the score reads the extra video_len, which must be finite; a NaN in the
  // last candidate is found by the last worker, and its message must be the caller's error.
  const auto bytes = ple::test::ConvertBundle("features_mixed").bytes;
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  ple::SessionOptions options;
  options.max_batch = 64;
  options.num_threads = 4;
  ple::Session session(model, options);
  CHECK(session.info().num_threads == 4);
  const size_t n = 64;
  std::vector<int64_t> video_id(n, 1), category(n, 1);
  std::vector<float> quality(n * 3, 0.5f), video_len(n, 10.0f);
  ple::Request request(model);
  std::vector<int64_t> user_id = {7}, history = {3};
  std::vector<uint32_t> lengths = {1};
  std::vector<float> age = {30.0f};
  request.Set({ple::FeatureValues::Ids("user_id", user_id), ple::FeatureValues::Sequences("history", history, lengths),
               ple::FeatureValues::Dense("age", age)});
  auto candidates = [&] {
    return std::vector<ple::FeatureValues>{ple::FeatureValues::Ids("video_id", video_id),
                                           ple::FeatureValues::Ids("category", category),
                                           ple::FeatureValues::Dense("quality", quality),
                                           ple::FeatureValues::Dense("video_len", video_len)};
  };
  std::vector<float> scores;
  CHECK_NOTHROW(session.Run(&request, candidates(), n, &scores));
  video_len[n - 1] = std::numeric_limits<float>::quiet_NaN();
  std::string message;
  try {
    session.Run(&request, candidates(), n, &scores);
  } catch (const ple::Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("video_len") != std::string::npos);
  CHECK(message.find("63") != std::string::npos);
  // Two bad candidates in chunks of different workers: the first one is named, as one thread
  // names it, whichever worker failed first in time.
  video_len[21] = std::numeric_limits<float>::quiet_NaN();
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::string first;
    try {
      session.Run(&request, candidates(), n, &scores);
    } catch (const ple::Error& e) {
      first = e.what();
    }
    INFO(first);
    CHECK(first.find("21") != std::string::npos);
    CHECK(first.find("63") == std::string::npos);
  }
}
#endif  // __EMSCRIPTEN__

TEST_CASE("profiling: per-stage times, and none when off", "[threads]") {
  const auto bytes = ple::test::ConvertBundle("ple2_unequal").bytes;
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  const size_t width = model.row_width(), tasks = model.tasks().size(), n = 100;
  std::vector<float> inputs(n * width, 0.25f), outputs(n * tasks);
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(n);
  ple::Session session(model, options);
  session.Run(inputs.data(), n, outputs.data());
  std::vector<ple_stage_time> stages = session.Profile();
  REQUIRE(stages.size() == 5);  // features, level 1, level 2, towers, outputs
  const char* names[] = {"features", "level 1", "level 2", "towers", "outputs"};
  for (size_t i = 0; i < stages.size(); ++i) {
    CHECK(std::string(stages[i].name) == names[i]);
    CHECK(stages[i].nanoseconds == 0);  // profiling is off by default
  }
  session.SetProfiling(true);
  for (int repeat = 0; repeat < 3; ++repeat) session.Run(inputs.data(), n, outputs.data());
  stages = session.Profile();
  for (size_t i = 1; i < 4; ++i) CHECK(stages[i].nanoseconds > 0);
  session.SetProfiling(false);
  CHECK(session.Profile()[1].nanoseconds == 0);  // turning it off zeroes the totals
  size_t count = 0;
  CHECK(ple_session_get_profile(session.get(), nullptr, 1, &count) == PLE_ERROR_INVALID_ARGUMENT);
}

#ifndef __EMSCRIPTEN__  // WebAssembly builds run one thread
// After back-to-back runs a session's workers spin for the next one (kDefaultSpinNanoseconds,
// thread_pool.h), then sleep: over an idle second the process uses (almost) no CPU.
TEST_CASE("threads: an idle multi-threaded session uses no CPU", "[threads]") {
  const ple::test::AlwaysSplitThreads split;
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  ple_session_options options;
  ple_session_options_init(&options);
  options.num_threads = 3;
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model.get(), &options, &session) == PLE_OK);
  const size_t rows = 16, width = ple_model_row_width(model.get()), tasks = ple_model_num_tasks(model.get());
  std::vector<float> inputs(rows * width, 0.25f), outputs(rows * tasks);
  for (int run = 0; run < 20; ++run) {  // back to back: the workers spin after each
    REQUIRE(ple_session_run(session, inputs.data(), inputs.size(), rows, outputs.data(), outputs.size()) == PLE_OK);
  }
  auto cpu_seconds = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_cpu = cpu_seconds() - before;
  INFO("CPU time over an idle second: " << idle_cpu * 1e3 << " ms");
  CHECK(idle_cpu < 0.02);  // a spinning worker would use ~1 s
  ple_session_close(&session);
}
#endif

TEST_CASE("threads: num_threads is checked, reported and counted in the session's memory", "[threads]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  ple_session_options options;
  ple_session_options_init(&options);
  CHECK(options.num_threads == 1);
  options.kernel_path = PLE_KERNELS_REFERENCE;
  ple_session* session = nullptr;
  for (uint32_t bad : {0u, 65u}) {
    options.num_threads = bad;
    CHECK(ple_session_create(model.get(), &options, &session) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(ple_last_error()).find("num_threads") != std::string::npos);
    CHECK(session == nullptr);
  }
  size_t one = 0, three = 0;
  options.num_threads = 1;
  REQUIRE(ple_session_memory_bytes(model.get(), &options, &one) == PLE_OK);
  options.num_threads = 3;
#if defined(__EMSCRIPTEN__)
  CHECK(ple_session_create(model.get(), &options, &session) == PLE_ERROR_UNSUPPORTED);
  (void)three;
#else
  REQUIRE(ple_session_memory_bytes(model.get(), &options, &three) == PLE_OK);
  REQUIRE(ple_session_create(model.get(), &options, &session) == PLE_OK);
  ple_session_info info{};
  info.struct_size = sizeof(info);
  REQUIRE(ple_session_get_info(session, &info) == PLE_OK);
  CHECK(info.num_threads == 3);
  CHECK(info.arena_bytes == three);  // exact on our own kernel paths
  CHECK(three > 2 * one);            // one arena per thread
  // A caller built against the header before num_threads: its struct ends before the field.
  ple_session_info old{};
  old.struct_size = offsetof(ple_session_info, num_threads);
  old.num_threads = 77;
  REQUIRE(ple_session_get_info(session, &old) == PLE_OK);
  CHECK(old.num_threads == 77);  // not written
  ple_session_close(&session);
#endif
}
