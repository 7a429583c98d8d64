#include "model_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ple::rt {

Status ModelBytes::MapFile(const char* path, std::unique_ptr<ModelBytes>* out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(PLE_ERROR_IO, "cannot open model file '%s': %s", path, std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return MakeError(PLE_ERROR_IO, "cannot stat model file '%s': %s", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeError(PLE_ERROR_IO, "model path '%s' is not a regular file", path);
  }
  if (st.st_size == 0) {
    ::close(fd);
    return MakeError(PLE_ERROR_INVALID_MODEL, "model file '%s' is empty", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (mapped == MAP_FAILED) {
    return MakeError(PLE_ERROR_IO, "cannot map model file '%s': %s", path, std::strerror(map_errno));
  }
  out->reset(new ModelBytes(Kind::kMapped, static_cast<const uint8_t*>(mapped), size));
  return Status::Ok();
}

Status ModelBytes::FromBuffer(const void* data, size_t size, std::unique_ptr<ModelBytes>* out) {
  if (data == nullptr) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "model buffer is NULL");
  if (size == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "model buffer is empty");
  if (reinterpret_cast<uintptr_t>(data) % kWeightAlignmentBytes == 0) {
    out->reset(new ModelBytes(Kind::kBorrowed, static_cast<const uint8_t*>(data), size));
    return Status::Ok();
  }
  const size_t padded = (size + kWeightAlignmentBytes - 1) / kWeightAlignmentBytes * kWeightAlignmentBytes;
  void* copy = std::aligned_alloc(kWeightAlignmentBytes, padded);
  if (copy == nullptr) {
    return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes for an aligned copy of the model", size);
  }
  std::memcpy(copy, data, size);
  auto bytes = std::unique_ptr<ModelBytes>(new ModelBytes(Kind::kCopied, static_cast<const uint8_t*>(copy), size));
  bytes->owned_copy_ = copy;
  *out = std::move(bytes);
  return Status::Ok();
}

ModelBytes::~ModelBytes() {
  switch (kind_) {
    case Kind::kMapped:
      ::munmap(const_cast<uint8_t*>(data_), size_);
      break;
    case Kind::kCopied:
      std::free(owned_copy_);
      break;
    case Kind::kBorrowed:
      break;
  }
}

}  // namespace ple::rt
