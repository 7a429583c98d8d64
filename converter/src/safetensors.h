// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the data. The reader checks every offset, size and dtype before exposing a tensor.
#ifndef PLE_CONVERTER_SAFETENSORS_H_
#define PLE_CONVERTER_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ple {
namespace convert {

enum class SafeDType { kF64, kF32, kF16, kBF16, kI64, kI32, kI8, kU8, kBool };

const char* SafeDTypeName(SafeDType dtype);
size_t SafeDTypeBytes(SafeDType dtype);

struct SafeTensor {
  SafeDType dtype = SafeDType::kF32;
  std::vector<uint64_t> shape;
  const uint8_t* data = nullptr;  // into SafeTensorsFile::bytes
  size_t size_bytes = 0;

  uint64_t element_count() const;
  std::string shape_string() const;  // "[2, 3]"
  // The values as float32, in row-major order. Throws when the dtype is not a float type
  // or (unless allowed: data, not weights) a value is not finite once in float32; `name` is
  // used in the message.
  std::vector<float> ToFloat(const std::string& name, bool allow_non_finite = false) const;
};

class SafeTensorsFile {
 public:
  // Throws ConvertError naming the file and the problem.
  static SafeTensorsFile Read(const std::string& path);
  static SafeTensorsFile Parse(std::vector<uint8_t> bytes, const std::string& what);

  const std::map<std::string, SafeTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafeTensor* Find(const std::string& name) const;

 private:
  std::vector<uint8_t> bytes_;
  std::map<std::string, SafeTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (name -> dtype, shape, raw little-endian bytes) as a safetensors file image.
struct SafeTensorToWrite {
  SafeDType dtype = SafeDType::kF32;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};
std::vector<uint8_t> WriteSafeTensors(const std::map<std::string, SafeTensorToWrite>& tensors,
                                      const std::map<std::string, std::string>& metadata = {});
SafeTensorToWrite MakeF32Tensor(const std::vector<uint64_t>& shape, const std::vector<float>& values);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_SAFETENSORS_H_
