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

inline convert::ConvertedModel ConvertBundle(const std::string& name, const convert::ImportOptions& options = {},
                                             const convert::PrecisionPlan& precision = {}) {
  return convert::ConvertNative(BundlePath(name) + "/config.json", BundlePath(name) + "/weights.safetensors",
                                options, precision);
}

// Every kernel path built into this library and supported by this CPU, the reference first.
inline std::vector<ple_kernel_path> KernelPaths() { return rt::AvailableKernelPaths(); }

// The precisions every quantization-aware test covers.
inline std::vector<std::string> Precisions() { return {"f32", "f16", "int8"}; }

}  // namespace test
}  // namespace ple

#endif  // PLE_TESTS_TEST_UTIL_H_
