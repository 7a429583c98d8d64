#include "load/model_bytes.h"

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
  auto bytes = std::unique_ptr<ModelBytes>(new ModelBytes(Kind::kMapped, static_cast<const uint8_t*>(mapped), size));
  bytes->mapping_ = mapped;
  bytes->mapping_size_ = size;
  *out = std::move(bytes);
  return Status::Ok();
}

Status ModelBytes::MapFd(int fd, uint64_t offset, uint64_t length, std::unique_ptr<ModelBytes>* out) {
  if (fd < 0) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "file descriptor %d is not valid", fd);
  if (length == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "model length is 0");
  struct stat st;
  if (::fstat(fd, &st) != 0) return MakeError(PLE_ERROR_IO, "cannot stat file descriptor %d: %s", fd, std::strerror(errno));
  if (offset > static_cast<uint64_t>(st.st_size) || length > static_cast<uint64_t>(st.st_size) - offset) {
    return MakeError(PLE_ERROR_IO, "bytes [%llu, %llu) are outside the %lld-byte file",
                     static_cast<unsigned long long>(offset), static_cast<unsigned long long>(offset + length),
                     static_cast<long long>(st.st_size));
  }
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t map_offset = offset / page * page;
  const size_t map_size = static_cast<size_t>(offset - map_offset + length);
  void* mapped = ::mmap(nullptr, map_size, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(map_offset));
  if (mapped == MAP_FAILED) {
    return MakeError(PLE_ERROR_IO, "cannot map file descriptor %d: %s", fd, std::strerror(errno));
  }
  const uint8_t* data = static_cast<const uint8_t*>(mapped) + (offset - map_offset);
  if (reinterpret_cast<uintptr_t>(data) % kWeightAlignmentBytes != 0) {
    Status status = FromBuffer(data, static_cast<size_t>(length), out, /*always_copy=*/true);
    ::munmap(mapped, map_size);
    return status;
  }
  auto bytes = std::unique_ptr<ModelBytes>(new ModelBytes(Kind::kMapped, data, static_cast<size_t>(length)));
  bytes->mapping_ = mapped;
  bytes->mapping_size_ = map_size;
  *out = std::move(bytes);
  return Status::Ok();
}

Status ModelBytes::FromBuffer(const void* data, size_t size, std::unique_ptr<ModelBytes>* out, bool always_copy) {
  if (data == nullptr) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "model buffer is NULL");
  if (size == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "model buffer is empty");
  if (!always_copy && reinterpret_cast<uintptr_t>(data) % kWeightAlignmentBytes == 0) {
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
      ::munmap(mapping_, mapping_size_);
      break;
    case Kind::kCopied:
      std::free(owned_copy_);
      break;
    case Kind::kBorrowed:
      break;
  }
}

}  // namespace ple::rt
