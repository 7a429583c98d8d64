// The C API and the C++ wrapper: versions, queries, argument checks, ownership.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <thread>

#include "ple/ple.h"
#include "ple/ple.hpp"
#include "ple_schema_version.h"
#include "test_util.h"

namespace {

std::string GoldenPath() { return ple::test::SourcePath("tests/golden/v1-feed-ranker.ple"); }

}  // namespace

TEST_CASE("c api: versions are queryable", "[c_api]") {
  CHECK(std::string(ple_version_string()) == PLE_TEST_VERSION);
  CHECK(ple_abi_version() == PLE_ABI_VERSION);
  CHECK(ple_schema_version() == ple::kSchemaVersion);
  // Semantic versions (docs/c-api.md, "Versions"): the ABI's from the header's macros, the
  // schema's from the reader version and the revisions since.
  CHECK(std::string(ple_abi_version_string()) ==
        std::to_string(PLE_ABI_VERSION) + "." + std::to_string(PLE_ABI_VERSION_MINOR) + ".0");
  CHECK(std::string(ple_schema_version_string()) == "4.0.0");  // reader 4, introduced by revision 6
  CHECK(std::string(ple_status_string(PLE_ERROR_BATCH_TOO_LARGE)) == "batch too large");
}

TEST_CASE("c api: model queries describe tasks, inputs and metadata", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  REQUIRE(ple_model_num_tasks(model) == 4);
  CHECK(std::string(ple_model_task_name(model, 0)) == "vtr");
  CHECK(ple_model_task_type(model, 0) == PLE_TASK_BINARY);
  CHECK(ple_model_task_type(model, 1) == PLE_TASK_REGRESSION);
  CHECK(ple_model_task_name(model, 4) == nullptr);
  REQUIRE(ple_model_num_inputs(model) == 3);
  CHECK(std::string(ple_model_input_name(model, 2)) == "item");
  CHECK(ple_model_input_width(model, 2) == 12);
  CHECK(ple_model_input_scope(model, 0) == PLE_SCOPE_REQUEST);
  CHECK(ple_model_input_scope(model, 2) == PLE_SCOPE_CANDIDATE);
  CHECK(ple_model_input_name(model, 3) == nullptr);
  CHECK(ple_model_row_width(model) == 24);
  CHECK(std::string(ple_model_metadata(model, "name")) == "feed-ranker");
  CHECK(std::string(ple_model_metadata(model, "producer")) == "ple-convert 0.1.0");
  CHECK(std::string(ple_model_metadata(model, "source_framework")) == "pytorch");
  CHECK(ple_model_metadata(model, "no such key") == nullptr);
  ple_model_close(&model);
  CHECK(model == nullptr);
  ple_model_close(&model);  // double close is harmless
  ple_model_close(nullptr);
}

TEST_CASE("c api: NULL and out-of-range arguments give INVALID_ARGUMENT with a message", "[c_api]") {
  ple_model* model = nullptr;
  CHECK(ple_model_open_file(nullptr, &model) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_open_file(GoldenPath().c_str(), nullptr) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_open_buffer(nullptr, 10, &model) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("NULL"));
  CHECK(ple_model_num_tasks(nullptr) == 0);
  CHECK(ple_model_row_width(nullptr) == 0);

  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  ple_session* session = nullptr;
  CHECK(ple_session_create(nullptr, nullptr, &session) == PLE_ERROR_INVALID_ARGUMENT);
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = 0;
  CHECK(ple_session_create(model, &options, &session) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("max_batch"));
  options.max_batch = 4;
  options.kernel_path = static_cast<ple_kernel_path>(42);
  CHECK(ple_session_create(model, &options, &session) == PLE_ERROR_INVALID_ARGUMENT);
  options.kernel_path = PLE_KERNELS_REFERENCE;
  options.struct_size = 4;
  CHECK(ple_session_create(model, &options, &session) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("struct_size"));
  options.struct_size = sizeof(options);
  REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);

  std::vector<float> in(5 * 24, 0.1f), out(5 * 4, -1.0f);
  CHECK(ple_session_run(nullptr, in.data(), 24, 1, out.data(), 4) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_session_run(session, nullptr, 24, 1, out.data(), 4) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_session_run(session, in.data(), 24, 1, nullptr, 4) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_session_run(session, in.data(), 23, 1, out.data(), 4) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("inputs_count is 23, expected 24"));
  CHECK(ple_session_run(session, in.data(), 48, 2, out.data(), 7) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("at least 8"));
  CHECK(ple_session_run(session, in.data(), 5 * 24, 5, out.data(), 20) == PLE_ERROR_BATCH_TOO_LARGE);
  CHECK_THAT(ple_last_error(), Catch::Contains("5 candidates") && Catch::Contains("at most 4"));
  CHECK(out[0] == -1.0f);  // nothing written by a refused run
  CHECK(ple_session_run(session, in.data(), 0, 0, out.data(), 0) == PLE_OK);  // batch 0: nothing to do
  CHECK(ple_session_run(session, in.data(), 4 * 24, 4, out.data(), 16) == PLE_OK);

  ple_session_info info;
  info.struct_size = 3;
  CHECK(ple_session_get_info(session, &info) == PLE_ERROR_INVALID_ARGUMENT);
  ple_session_close(&session);
  CHECK(session == nullptr);
  ple_session_close(&session);
  ple_model_close(&model);
}

TEST_CASE("c api: the memory query equals what the session allocates (XNNPACK: an upper bound)", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  for (ple_kernel_path path : ple::test::KernelPaths()) {
    for (uint32_t max_batch : {1u, 7u, 128u, 1000u}) {
      INFO("kernel path " << path << ", max_batch " << max_batch);
      ple_session_options options;
      ple_session_options_init(&options);
      options.max_batch = max_batch;
      options.kernel_path = path;
      size_t predicted = 0;
      REQUIRE(ple_session_memory_bytes(model, &options, &predicted) == PLE_OK);
      ple_session* session = nullptr;
      REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
      ple_session_info info;
      info.struct_size = sizeof(info);
      REQUIRE(ple_session_get_info(session, &info) == PLE_OK);
      CHECK(info.kernel_path == path);
      CHECK(info.max_batch == max_batch);
      CHECK(info.tile_rows == std::min(max_batch, 128u));
      CHECK(info.arena_bytes > 0);
      if (path != PLE_KERNELS_XNNPACK) {  // our kernels read the model's packed weights: no copy
        CHECK(info.packed_weight_bytes == 0);
        CHECK(predicted == info.arena_bytes);
      } else {
        CHECK(info.packed_weight_bytes >= 14162 * sizeof(float));  // every parameter, packed
        CHECK(predicted >= info.arena_bytes + info.packed_weight_bytes);
      }
      ple_session_close(&session);
    }
  }
  ple_model_close(&model);
}

TEST_CASE("c api: sessions keep their model alive after the caller closes it", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);
  ple_model_close(&model);
  std::vector<float> in(24, 0.2f), out(4);
  CHECK(ple_session_run(session, in.data(), in.size(), 1, out.data(), out.size()) == PLE_OK);
  CHECK(std::isfinite(out[1]));
  ple_session_close(&session);
}

TEST_CASE("c api: an unavailable kernel path is UNSUPPORTED, not a crash", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  ple_session_options options;
  ple_session_options_init(&options);
  options.kernel_path = PLE_KERNELS_XNNPACK;
  ple_session* session = nullptr;
  const ple_status status = ple_session_create(model, &options, &session);
  CHECK(status == (PLE_TEST_HAVE_XNNPACK ? PLE_OK : PLE_ERROR_UNSUPPORTED));
  ple_session_close(&session);
  ple_model_close(&model);
}

TEST_CASE("c++ wrapper: RAII handles, queries and errors as exceptions", "[c_api]") {
  ple::Model model = ple::Model::OpenFile(GoldenPath());
  CHECK(model.row_width() == 24);
  CHECK(model.tasks().size() == 4);
  CHECK(model.inputs()[1].name == "context");
  CHECK(model.metadata("name") == "feed-ranker");
  ple::SessionOptions options;
  options.max_batch = 3;
  ple::Session session(model, options);
  const std::vector<float> outputs = session.Run(std::vector<float>(3 * 24, 0.3f));
  CHECK(outputs.size() == 12);
  CHECK(session.info().max_batch == 3);
  try {
    session.Run(std::vector<float>(4 * 24, 0.3f));
    FAIL("a batch above the maximum must throw");
  } catch (const ple::Error& e) {
    CHECK(e.status() == PLE_ERROR_BATCH_TOO_LARGE);
    CHECK_THAT(e.what(), Catch::Contains("at most 3"));
  }
  CHECK_THROWS_AS(session.Run(std::vector<float>(25, 0.0f)), ple::Error);
  CHECK_THROWS_AS(ple::Model::OpenFile("/nonexistent/model.ple"), ple::Error);
  ple::Model moved = std::move(model);
  CHECK(moved.row_width() == 24);
  CHECK(ple::Session::MemoryBytes(moved) > 0);
}

#ifndef __EMSCRIPTEN__  // WebAssembly builds have no threads
TEST_CASE("c api: one model shared by sessions on several threads gives the single-thread results", "[c_api]") {
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  constexpr size_t kCandidates = 200, kWidth = 24, kTasks = 4, kThreads = 4;
  std::vector<float> inputs(kCandidates * kWidth);
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>((i * 13) % 29) / 14.0f - 1.0f;
  auto score = [&](std::vector<float>* outputs) {
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = kCandidates;
    ple_session* session = nullptr;
    bool ok = ple_session_create(model, &options, &session) == PLE_OK;
    outputs->assign(kCandidates * kTasks, 0.0f);
    for (int repeat = 0; ok && repeat < 20; ++repeat) {
      ok = ple_session_run(session, inputs.data(), inputs.size(), kCandidates, outputs->data(), outputs->size()) ==
           PLE_OK;
    }
    ple_session_close(&session);
    return ok;
  };
  std::vector<float> expected;
  REQUIRE(score(&expected));
  std::vector<std::vector<float>> results(kThreads);
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { ok[t] = score(&results[t]); });
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < kThreads; ++t) {
    CHECK(ok[t]);
    CHECK(results[t] == expected);  // bit-identical: same kernels, same order
  }
  ple_model_close(&model);
}
#endif  // __EMSCRIPTEN__

namespace {

// A caller's struct from a newer header: ours, then bytes this library does not know.
template <typename T>
struct Newer {
  T s;
  unsigned char tail[16];
  Newer() {
    std::memset(this, 0, sizeof *this);
    std::memset(tail, 0xAB, sizeof tail);
    s.struct_size = sizeof *this;
  }
  bool tail_untouched() const {
    for (unsigned char b : tail) {
      if (b != 0xAB) return false;
    }
    return true;
  }
};

}  // namespace

TEST_CASE("c api: structs from older and newer headers: the first version's fields suffice, a newer tail is untouched",
          "[c_api]") {
  // docs/c-api.md: structs only grow at the end. Each struct's first version ends at its last
  // field of then; one byte less is refused by name.
  const auto bytes = ple::test::ConvertBundle("features_f16_sum").bytes;  // a score, gates with layers
  ple::test::AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);

  SECTION("ple_expert_info and ple_gate_info") {
    const uint32_t expert_first = offsetof(ple_expert_info, parameters) + sizeof(uint64_t);
    const uint32_t gate_first = offsetof(ple_gate_info, parameters) + sizeof(uint64_t);
    ple_expert_info expert{};
    expert.struct_size = expert_first;
    CHECK(ple_model_get_expert(model, 0, 0, &expert) == PLE_OK);
    CHECK(expert.parameters > 0);
    expert.struct_size = expert_first - 1;
    CHECK(ple_model_get_expert(model, 0, 0, &expert) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(ple_last_error(), Catch::Contains("ple_expert_info.struct_size is " + std::to_string(expert_first - 1)));
    ple_gate_info gate{};
    gate.struct_size = gate_first;
    CHECK(ple_model_get_gate(model, 0, 0, &gate) == PLE_OK);
    CHECK(gate.num_experts > 0);
    gate.struct_size = gate_first - 1;
    CHECK(ple_model_get_gate(model, 0, 0, &gate) == PLE_ERROR_INVALID_ARGUMENT);
    Newer<ple_expert_info> newer_expert;
    CHECK(ple_model_get_expert(model, 0, 0, &newer_expert.s) == PLE_OK);
    CHECK(newer_expert.s.parameters == expert.parameters);
    CHECK(newer_expert.tail_untouched());
    Newer<ple_gate_info> newer_gate;
    CHECK(ple_model_get_gate(model, 0, 0, &newer_gate.s) == PLE_OK);
    CHECK(newer_gate.s.num_experts == gate.num_experts);
    CHECK(newer_gate.tail_untouched());
  }
  SECTION("ple_score_params, read and written") {
    // Its first version ends at transform_offset: tail padding is not a field (44 of 48 bytes
    // on 64-bit targets).
    const uint32_t first = offsetof(ple_score_params, transform_offset) + sizeof(float);
    ple_score_params score{};
    score.struct_size = first;
    REQUIRE(ple_model_get_score(model, &score) == PLE_OK);
    CHECK(score.num_exponents == ple_model_num_tasks(model));
    CHECK(ple_session_set_score(session, &score) == PLE_OK);
    score.struct_size = first - 1;
    CHECK(ple_model_get_score(model, &score) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK(ple_session_set_score(session, &score) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(ple_last_error(), Catch::Contains("ple_score_params.struct_size"));
    Newer<ple_score_params> newer;
    REQUIRE(ple_model_get_score(model, &newer.s) == PLE_OK);
    CHECK(newer.tail_untouched());
    CHECK(ple_session_set_score(session, &newer.s) == PLE_OK);
  }
  SECTION("ple_session_info: ABI 1.0's struct ends before num_threads, which stays as it was") {
    ple_session_info old{};
    old.struct_size = offsetof(ple_session_info, num_threads);
    old.num_threads = 77;
    CHECK(ple_session_get_info(session, &old) == PLE_OK);
    CHECK(old.num_threads == 77);
    CHECK(old.max_batch > 0);
    old.struct_size = offsetof(ple_session_info, packed_weight_bytes) + sizeof(size_t) - 1;
    CHECK(ple_session_get_info(session, &old) == PLE_ERROR_INVALID_ARGUMENT);
    Newer<ple_session_info> newer;
    CHECK(ple_session_get_info(session, &newer.s) == PLE_OK);
    CHECK(newer.s.num_threads == 1);
    CHECK(newer.tail_untouched());
  }
  SECTION("ple_session_options: ABI 1.0's struct ends before num_threads (one thread)") {
    ple_session_options old;
    ple_session_options_init(&old);
    old.struct_size = offsetof(ple_session_options, num_threads);
    old.num_threads = 4;  // beyond its struct_size: not read
    ple_session* one = nullptr;
    REQUIRE(ple_session_create(model, &old, &one) == PLE_OK);
    ple_session_info info{};
    info.struct_size = sizeof info;
    REQUIRE(ple_session_get_info(one, &info) == PLE_OK);
    CHECK(info.num_threads == 1);
    ple_session_close(&one);
    old.struct_size = offsetof(ple_session_options, kernel_path) + sizeof(ple_kernel_path) - 1;
    CHECK(ple_session_create(model, &old, &one) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(ple_last_error(), Catch::Contains("ple_session_options.struct_size"));
  }
  ple_session_close(&session);
  ple_model_close(&model);
}

TEST_CASE("c api: lookups answer for every kernel path and any metadata key", "[c_api]") {
  for (int path = PLE_KERNELS_AUTO; path <= PLE_KERNELS_WASM_RELAXED; ++path) {
    const int available = ple_kernel_path_available(static_cast<ple_kernel_path>(path));
    CHECK((available == 0 || available == 1));
  }
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_file(GoldenPath().c_str(), &model) == PLE_OK);
  const std::string long_key(100, 'x');  // past any small-string buffer (the lookup no longer builds a string)
  CHECK(ple_model_metadata(model, long_key.c_str()) == nullptr);
  CHECK(ple_model_metadata(model, "name") != nullptr);
  ple_model_close(&model);
  CHECK(std::string(ple_schema_version_string()).find('.') != std::string::npos);
}
