// Helpers shared by the tests: repository paths, files, aligned buffers, converted bundles.
#ifndef PLE_TESTS_TEST_UTIL_H_
#define PLE_TESTS_TEST_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "converter.h"
#include "kernels/kernel_set.h"

namespace ple {
namespace test {

inline std::string SourcePath(const std::string& relative) { return std::string(PLE_SOURCE_DIR) + "/" + relative; }
inline std::string BundlePath(const std::string& name) { return SourcePath("tests/bundles/" + name); }

inline const std::vector<std::string>& BundleNames() {
  static const std::vector<std::string> names = {"mmoe",         "cgc_bn",        "ple2_unequal",
                                                 "ple3_noshared_last", "single_task", "six_tasks", "eight_tasks",
                                                 "shared_bottom", "activations", "deepctr_style"};
  return names;
}

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A fresh directory under $TMPDIR (or /tmp), one per call.
inline std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/ple-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  const char* dir = ::mkdtemp(buffer.data());
  return dir ? dir : "";
}

// Bytes at a chosen offset from a 64-byte boundary (0: aligned).
class AlignedBuffer {
 public:
  AlignedBuffer(const std::vector<uint8_t>& bytes, size_t misalignment = 0)
      : storage_(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes.size() + misalignment + 63) / 64 * 64))),
        data_(storage_ + misalignment),
        size_(bytes.size()) {
    if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
  }
  ~AlignedBuffer() { std::free(storage_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* storage_;
  uint8_t* data_;
  size_t size_;
};

// Opens `bytes` from an aligned copy and closes the model again: the status, the last error
// when it failed, and whether the out-pointer agreed with the status (a model on success,
// NULL on failure).
// Sessions created while this lives split every run across all their threads
// (PLE_THREAD_SPLIT=always): the tests' batches are too small for the cost model to wake a
// worker (run/worker_cost.h), and the tests are there to run them on many workers.
struct AlwaysSplitThreads {
  AlwaysSplitThreads() { setenv("PLE_THREAD_SPLIT", "always", 1); }
  ~AlwaysSplitThreads() { unsetenv("PLE_THREAD_SPLIT"); }
  AlwaysSplitThreads(const AlwaysSplitThreads&) = delete;
  AlwaysSplitThreads& operator=(const AlwaysSplitThreads&) = delete;
};

struct OpenResult {
  ple_status status;
  std::string message;
  bool handle_consistent;
};

inline OpenResult OpenBytes(const std::vector<uint8_t>& bytes) {
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  const ple_status status = ple_model_open_buffer(buffer.data(), buffer.size(), &model);
  OpenResult result{status, status == PLE_OK ? "" : ple_last_error(), (status == PLE_OK) == (model != nullptr)};
  ple_model_close(&model);
  return result;
}

inline convert::ConvertedModel ConvertBundle(const std::string& name, const convert::ImportOptions& options = {},
                                             const convert::PrecisionPlan& precision = {}) {
  return convert::ConvertNative(BundlePath(name) + "/config.json", BundlePath(name) + "/weights.safetensors",
                                options, precision);
}

// Runs `rows` candidates of plain valid inputs (dense values 0.25, ids 0, sequences of one id
// 0, extras 1) through `session`, with a request context when the model has request-scope
// features; `outputs` takes rows x num_tasks floats. Returns the run's status (or the
// request's, when setting it fails).
inline ple_status RunWithValidInputs(const ple_model* model, ple_session* session, size_t rows, float* outputs) {
  const size_t tasks = ple_model_num_tasks(model);
  std::vector<std::vector<float>> values;
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<uint32_t>> lengths;
  std::vector<ple_feature_values> request_features, candidate_features;
  const size_t features = ple_model_num_features(model);
  values.reserve(features + ple_model_num_extras(model));
  ids.reserve(features);
  lengths.reserve(features);
  for (size_t f = 0; f < features; ++f) {
    const bool request_scope = ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST;
    const size_t count = request_scope ? 1 : rows;
    ple_feature_values v{};
    v.name = ple_model_feature_name(model, f);
    switch (ple_model_feature_kind(model, f)) {
      case PLE_FEATURE_DENSE:
        values.emplace_back(count * ple_model_feature_width(model, f), 0.25f);
        v.values = values.back().data();
        v.num_values = values.back().size();
        break;
      case PLE_FEATURE_SPARSE:
        ids.emplace_back(count, 0);
        v.ids = ids.back().data();
        v.num_ids = count;
        break;
      case PLE_FEATURE_SEQUENCE:
        ids.emplace_back(count, 0);
        lengths.emplace_back(count, 1);
        v.ids = ids.back().data();
        v.num_ids = count;
        v.lengths = lengths.back().data();
        break;
    }
    (request_scope ? request_features : candidate_features).push_back(v);
  }
  for (size_t e = 0; e < ple_model_num_extras(model); ++e) {
    values.emplace_back(rows, 1.0f);
    ple_feature_values v{};
    v.name = ple_model_extra_name(model, e);
    v.values = values.back().data();
    v.num_values = rows;
    candidate_features.push_back(v);
  }
  ple_request* request = nullptr;
  if (!request_features.empty()) {
    ple_status status = ple_request_create(model, &request);
    if (status == PLE_OK) status = ple_request_set(request, request_features.data(), request_features.size());
    if (status != PLE_OK) {
      ple_request_close(&request);
      return status;
    }
  }
  const ple_status status = ple_session_run_features(session, request, candidate_features.data(),
                                                     candidate_features.size(), rows, outputs, rows * tasks, nullptr, 0);
  ple_request_close(&request);
  return status;
}

// Every kernel path built into this library and supported by this CPU, the reference first.
inline std::vector<ple_kernel_path> KernelPaths() { return rt::AvailableKernelPaths(); }

// The precisions every quantization-aware test covers.
inline std::vector<std::string> Precisions() { return {"f32", "f16", "int8"}; }

}  // namespace test
}  // namespace ple

#endif  // PLE_TESTS_TEST_UTIL_H_
