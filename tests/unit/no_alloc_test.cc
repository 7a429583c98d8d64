// Run performs no heap allocation: malloc, calloc, realloc, free, the aligned allocators and
// every operator new/delete are hooked, and counted while runs of every batch size from 1 to
// the session's maximum execute, on every kernel path, from the session's first run on.
// (Not built with sanitizers: they own malloc.)
#include <malloc.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>

#include "ple/ple.h"
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

inline void Count() {
  if (g_counting.load(std::memory_order_relaxed)) g_calls.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {
void* malloc(size_t size) {
  Count();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  Count();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  Count();
  return __libc_realloc(pointer, size);
}
void free(void* pointer) {
  if (pointer != nullptr) Count();
  __libc_free(pointer);
}
void* memalign(size_t alignment, size_t size) {
  Count();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  Count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  Count();
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

TEST_CASE("Run allocates nothing, for every batch size up to the maximum, on every kernel path", "[no_alloc]") {
  std::vector<ple_kernel_path> paths = {PLE_KERNELS_REFERENCE};
  if (PLE_TEST_HAVE_XNNPACK) paths.push_back(PLE_KERNELS_XNNPACK);
  std::vector<std::string> models = {ple::test::SourcePath("tests/golden/v1-feed-ranker.ple")};
  const std::string dir = ple::test::MakeTempDir();
  for (const char* name : {"ple3_noshared_last", "shared_bottom", "activations"}) {
    models.push_back(dir + "/" + std::string(name) + ".ple");
    ple::test::WriteFileBytes(models.back(), ple::test::ConvertBundle(name).bytes);
  }
  constexpr uint32_t kMaxBatch = 300;  // crosses two tile boundaries (tiles of 128)
  for (const std::string& path : models) {
    for (ple_kernel_path kernels : paths) {
      INFO("model " << path << ", kernel path " << kernels);
      ple_model* model = nullptr;
      REQUIRE(ple_model_open_file(path.c_str(), &model) == PLE_OK);
      ple_session_options options;
      ple_session_options_init(&options);
      options.max_batch = kMaxBatch;
      options.kernel_path = kernels;
      ple_session* session = nullptr;
      REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
      const size_t width = ple_model_row_width(model), tasks = ple_model_num_tasks(model);
      std::vector<float> inputs(kMaxBatch * width), outputs(kMaxBatch * tasks);
      for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;

      g_calls = 0;
      bool all_ok = true;
      g_counting = true;
      for (uint32_t n = 1; n <= kMaxBatch; ++n) {
        all_ok = all_ok && ple_session_run(session, inputs.data(), n * width, n, outputs.data(), n * tasks) == PLE_OK;
      }
      // A refused run (errors are reported without allocating either).
      all_ok = all_ok && ple_session_run(session, inputs.data(), 1, 1, outputs.data(), tasks) != PLE_OK;
      g_counting = false;
      CHECK(all_ok);
      CHECK(g_calls.load() == 0);
      ple_session_close(&session);
      ple_model_close(&model);
    }
  }
}
