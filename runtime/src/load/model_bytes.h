// The bytes of a model file, held for the model's lifetime: a read-only mmap of a file, a
// caller-owned buffer read in place, or one 64-byte aligned copy of a caller buffer that was
// not aligned. Weight pointers into these bytes stay valid until the ModelBytes is destroyed.
#ifndef PLE_RUNTIME_LOAD_MODEL_BYTES_H_
#define PLE_RUNTIME_LOAD_MODEL_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "status.h"

namespace ple::rt {

// Alignment every weight vector has inside the file (schema: force_align 64).
constexpr size_t kWeightAlignmentBytes = 64;

class ModelBytes {
 public:
  // Maps `path` read-only (MAP_PRIVATE). Empty files are rejected.
  static Status MapFile(const char* path, std::unique_ptr<ModelBytes>* out);
  // Uses `data` in place when it is 64-byte aligned (unless `always_copy`), otherwise copies it once.
  static Status FromBuffer(const void* data, size_t size, std::unique_ptr<ModelBytes>* out, bool always_copy = false);
  // Maps [offset, offset + length) of an open file; copies when offset is not 64-byte aligned.
  static Status MapFd(int fd, uint64_t offset, uint64_t length, std::unique_ptr<ModelBytes>* out);

  ~ModelBytes();
  ModelBytes(const ModelBytes&) = delete;
  ModelBytes& operator=(const ModelBytes&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool is_copy() const { return owned_copy_ != nullptr; }

 private:
  enum class Kind { kMapped, kBorrowed, kCopied };
  ModelBytes(Kind kind, const uint8_t* data, size_t size) : kind_(kind), data_(data), size_(size) {}

  Kind kind_;
  const uint8_t* data_;
  size_t size_;
  void* owned_copy_ = nullptr;   // kCopied: freed with std::free
  void* mapping_ = nullptr;      // kMapped: the page-aligned mapping (data_ may start inside it)
  size_t mapping_size_ = 0;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_MODEL_BYTES_H_
