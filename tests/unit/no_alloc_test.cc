// Run performs no heap allocation (and load and prepare allocate in proportion to the file): malloc, calloc, realloc, free, the aligned allocators and
// every operator new/delete are hooked, and counted while runs of every batch size from 1 to
// the session's maximum execute, on every kernel path, from the session's first run on.
// (Not built with sanitizers: they own malloc.)
#include <malloc.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "ple/ple.h"
#include "converter.h"
#include "test_util.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void __libc_free(void* pointer);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace {

std::atomic<bool> g_counting{false};
std::atomic<size_t> g_calls{0};
std::atomic<size_t> g_bytes{0};  // bytes asked for by the counted calls (freed ones included)

inline void Count(size_t bytes = 0) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_calls.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

}  // namespace

extern "C" {
void* malloc(size_t size) {
  Count(size);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  Count(count * size);
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  Count(size);
  return __libc_realloc(pointer, size);
}
void free(void* pointer) {
  if (pointer != nullptr) Count();
  __libc_free(pointer);
}
void* memalign(size_t alignment, size_t size) {
  Count(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  Count(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  Count(size);
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
}

void* operator new(size_t size) {
  void* p = malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void* operator new(size_t size, std::align_val_t alignment) {
  void* p = aligned_alloc(static_cast<size_t>(alignment), (size + static_cast<size_t>(alignment) - 1) /
                                                              static_cast<size_t>(alignment) *
                                                              static_cast<size_t>(alignment));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size, std::align_val_t alignment) { return operator new(size, alignment); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }

// Every batch size from 1 to `max`, or with PLE_TEST_SCALE=reduced (slow emulated runs) the
// sizes around each tile boundary and the ends.
std::vector<uint32_t> BatchSizes(uint32_t max) {
  std::vector<uint32_t> sizes;
  const char* scale = std::getenv("PLE_TEST_SCALE");
  const bool reduced = scale != nullptr && std::string(scale) == "reduced";
  for (uint32_t n = 1; n <= max; ++n) {
    const bool near_tile_edge = n % 128 <= 1 || n % 128 == 127;
    if (!reduced || n <= 3 || near_tile_edge || n >= max - 1) sizes.push_back(n);
  }
  return sizes;
}

TEST_CASE("the hooks see allocations (the test can fail)", "[no_alloc]") {
  g_calls = 0;
  g_counting = true;
  void* p = std::malloc(16);
  auto* q = new int(3);
  delete q;
  std::free(p);
  g_counting = false;
  CHECK(g_calls.load() == 4);
}

TEST_CASE("Run allocates nothing, for every batch size up to the maximum, on every kernel path and 1 or 2 threads",
          "[no_alloc]") {
  const ple::test::AlwaysSplitThreads split;  // 2 threads: both take a share of every batch above 1
  const std::vector<ple_kernel_path> paths = ple::test::KernelPaths();
  std::vector<std::string> models = {ple::test::SourcePath("tests/golden/v1-feed-ranker.ple")};
  const std::string dir = ple::test::MakeTempDir();
  for (const char* name : {"ple3_noshared_last", "shared_bottom", "activations"}) {
    models.push_back(dir + "/" + std::string(name) + ".ple");
    ple::test::WriteFileBytes(models.back(), ple::test::ConvertBundle(name).bytes);
  }
  for (const char* precision : {"f16", "int8"}) {  // the quantized groups' scratch too
    models.push_back(dir + "/ple3_noshared_last-" + precision + ".ple");
    ple::test::WriteFileBytes(models.back(), ple::test::ConvertBundle("ple3_noshared_last", {},
                                                                      ple::convert::PrecisionPlan::ForName(precision))
                                                 .bytes);
  }
  constexpr uint32_t kMaxBatch = 300;  // crosses two tile boundaries (tiles of 128)
  for (const std::string& path : models) {
    for (ple_kernel_path kernels : paths) {
    for (uint32_t threads : {1u, 2u}) {
      INFO("model " << path << ", kernel path " << kernels << ", " << threads << " threads");
      ple_model* model = nullptr;
      REQUIRE(ple_model_open_file(path.c_str(), &model) == PLE_OK);
      ple_session_options options;
      ple_session_options_init(&options);
      options.max_batch = kMaxBatch;
      options.kernel_path = kernels;
      options.num_threads = threads;
      ple_session* session = nullptr;
      REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
      const size_t width = ple_model_row_width(model), tasks = ple_model_num_tasks(model);
      std::vector<float> inputs(kMaxBatch * width), outputs(kMaxBatch * tasks);
      for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;

      const std::vector<uint32_t> sizes = BatchSizes(kMaxBatch);
      g_calls = 0;
      bool all_ok = true;
      g_counting = true;
      for (uint32_t n : sizes) {
        all_ok = all_ok && ple_session_run(session, inputs.data(), n * width, n, outputs.data(), n * tasks) == PLE_OK;
      }
      // A refused run (errors are reported without allocating either).
      all_ok = all_ok && ple_session_run(session, inputs.data(), 1, 1, outputs.data(), tasks) != PLE_OK;
      g_counting = false;
      CHECK(all_ok);
      CHECK(g_calls.load() == 0);
      // Gate recording on (docs/diagnostics.md): it allocates when turned on, never in a run,
      // and reading the weights back allocates nothing either.
      REQUIRE(ple_session_set_gate_recording(session, 1) == PLE_OK);
      std::vector<float> weights(kMaxBatch * 16);
      size_t rows = 0;
      g_counting = true;
      for (uint32_t n : sizes) {
        all_ok = all_ok && ple_session_run(session, inputs.data(), n * width, n, outputs.data(), n * tasks) == PLE_OK;
        all_ok = all_ok && ple_session_get_gate_weights(session, 0, 0, weights.data(), weights.size(), &rows,
                                                        nullptr) == PLE_OK;
      }
      g_counting = false;
      CHECK(all_ok);
      CHECK(g_calls.load() == 0);
      ple_session_close(&session);
      ple_model_close(&model);
    }
    }
  }
}

TEST_CASE("Setting a request, scoring features, the ranking score and top-K allocate nothing", "[no_alloc]") {
  const std::vector<ple_kernel_path> paths = ple::test::KernelPaths();
  const std::string path = ple::test::SourcePath("tests/golden/v2-feed-ranker.ple");  // the example feed model
  constexpr uint32_t kMaxBatch = 300;
  // Request values.
  const int64_t user_id = 5, hour = 20;
  const int64_t history[] = {3, 0, 17, 499};
  const uint32_t history_length = 4;
  const float activity = 2.5f;
  const ple_feature_values user[] = {{"user_id", nullptr, 0, &user_id, 1, nullptr},
                                     {"history", nullptr, 0, history, 4, &history_length},
                                     {"hour", nullptr, 0, &hour, 1, nullptr},
                                     {"user_activity", &activity, 1, nullptr, 0, nullptr}};
  // Candidate values, ids out of vocabulary included (hashed).
  std::vector<int64_t> video_id(kMaxBatch), category(kMaxBatch);
  std::vector<float> quality(2 * kMaxBatch), video_len(kMaxBatch);
  for (uint32_t i = 0; i < kMaxBatch; ++i) {
    video_id[i] = static_cast<int64_t>(i * 7) - 20;
    category[i] = i % 20;
    quality[2 * i] = static_cast<float>(i % 10) / 10.0f;
    quality[2 * i + 1] = 0.5f;
    video_len[i] = static_cast<float>(i % 90);
  }
  for (ple_kernel_path kernels : paths) {
    INFO("kernel path " << kernels);
    ple_model* model = nullptr;
    REQUIRE(ple_model_open_file(path.c_str(), &model) == PLE_OK);
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = kMaxBatch;
    options.kernel_path = kernels;
    ple_session* session = nullptr;
    ple_request* request = nullptr;
    REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
    REQUIRE(ple_request_create(model, &request) == PLE_OK);
    std::vector<float> outputs(kMaxBatch * 3), scores(kMaxBatch);
    std::vector<uint32_t> top(kMaxBatch);

    const std::vector<uint32_t> sizes = BatchSizes(kMaxBatch);
    g_calls = 0;
    bool all_ok = true;
    g_counting = true;
    all_ok = all_ok && ple_request_set(request, user, 4) == PLE_OK;
    for (uint32_t n : sizes) {
      const ple_feature_values items[] = {{"video_id", nullptr, 0, video_id.data(), n, nullptr},
                                          {"video_category", nullptr, 0, category.data(), n, nullptr},
                                          {"video_quality", quality.data(), 2 * n, nullptr, 0, nullptr},
                                          {"video_len", video_len.data(), n, nullptr, 0, nullptr}};
      all_ok = all_ok && ple_session_run_features(session, request, items, 4, n, outputs.data(), 3 * n, scores.data(),
                                                  n) == PLE_OK;
      all_ok = all_ok && ple_rank_top_k(scores.data(), n, 10, top.data()) == PLE_OK;
      if (n == 129) all_ok = all_ok && ple_request_set(request, user, 4) == PLE_OK;  // a new request mid-way
    }
    // Refused calls report their errors without allocating either.
    const ple_feature_values unknown[] = {{"colour", video_len.data(), 1, nullptr, 0, nullptr}};
    all_ok = all_ok && ple_session_run_features(session, request, unknown, 1, 1, outputs.data(), 3, nullptr, 0) != PLE_OK;
    g_counting = false;
    CHECK(all_ok);
    CHECK(g_calls.load() == 0);
    ple_request_close(&request);
    ple_session_close(&session);
    ple_model_close(&model);
  }
}

TEST_CASE("Encoding raw values allocates nothing (docs/encoders.md)", "[no_alloc]") {
  const std::vector<uint8_t> bytes =
      ple::convert::ConvertNative(ple::test::SourcePath("tests/data/encoders/config.json"),
                                  ple::test::SourcePath("examples/feed/weights.safetensors"))
          .bytes;
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_buffer_copy(bytes.data(), bytes.size(), &model) == PLE_OK);
  const size_t category = static_cast<size_t>(ple_model_find_feature(model, "video_category"));
  const size_t user = static_cast<size_t>(ple_model_find_feature(model, "user_id"));
  const size_t hour = static_cast<size_t>(ple_model_find_feature(model, "hour"));
  const char* names[] = {"cat03", "cat17", "cat00", "unknown"};
  const int64_t users[] = {0, 150, 299};
  const float hours[] = {0.5f, 11.0f, 23.5f};
  int64_t ids[4];
  g_calls = 0;
  g_counting = true;
  bool ok = ple_model_encode_strings(model, category, names, nullptr, 3, ids) == PLE_OK;
  ok = ok && ple_model_encode_ints(model, user, users, 3, ids) == PLE_OK;
  ok = ok && ple_model_encode_floats(model, hour, hours, 3, ids) == PLE_OK;
  ok = ok && ple_model_encode_strings(model, category, names + 3, nullptr, 1, ids) == PLE_ERROR_INVALID_ARGUMENT;
  g_counting = false;
  CHECK(ok);
  CHECK(g_calls.load() == 0);
  ple_model_close(&model);
}

TEST_CASE("load and prepare allocate in proportion to the file and the session's arena", "[no_alloc]") {
  // Bound (docs/hardening.md): load, twice the file (its views, and for schema 1 and 2 files the
  // weights packed at load) plus 64 KiB; prepare, what ple_session_memory_bytes announces plus
  // the file's size plus 64 KiB. Bytes asked for are summed, freed ones included.
  const auto int8 = ple::convert::PrecisionPlan::ForName("int8");
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  for (const char* name : {"mmoe", "features_mixed", "eight_tasks", "ple3_noshared_last"}) {
    files.push_back({name, ple::test::ConvertBundle(name).bytes});
    files.push_back({std::string(name) + " int8", ple::test::ConvertBundle(name, {}, int8).bytes});
  }
  const std::vector<uint8_t> v1 = ple::test::ReadFileBytes(ple::test::SourcePath("tests/golden/v1-feed-ranker.ple"));
  files.push_back({"v1 golden (packed at load)", v1});
  for (const auto& [name, bytes] : files) {
    ple::test::AlignedBuffer buffer(bytes);
    ple_model* model = nullptr;
    g_bytes = 0;
    g_counting = true;
    const ple_status opened = ple_model_open_buffer(buffer.data(), buffer.size(), &model);
    g_counting = false;
    REQUIRE(opened == PLE_OK);
    const size_t load_bytes = g_bytes.load();
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = 1000;
    size_t announced = 0;
    REQUIRE(ple_session_memory_bytes(model, &options, &announced) == PLE_OK);
    ple_session* session = nullptr;
    g_bytes = 0;
    g_counting = true;
    const ple_status prepared = ple_session_create(model, &options, &session);
    g_counting = false;
    REQUIRE(prepared == PLE_OK);
    const size_t prepare_bytes = g_bytes.load();
    INFO(name << ": file " << bytes.size() << " bytes, load allocated " << load_bytes << ", prepare " << prepare_bytes
              << " (announced arena and scratch " << announced << ")");
    CHECK(load_bytes <= 2 * bytes.size() + 64 * 1024);  // measured: at most 1.5x (v1, packed at load)
    CHECK(prepare_bytes <= announced + bytes.size() + 64 * 1024);
    ple_session_close(&session);
    ple_model_close(&model);
  }
}
