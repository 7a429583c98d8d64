// A safetensors file (the converter's weights input): any bytes. Parse either succeeds or
// throws ConvertError; every parsed tensor then converts to float or throws ConvertError.
#include <cstdint>
#include <vector>

#include "convert_error.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  try {
    const auto file = ple::convert::SafeTensorsFile::Parse(std::vector<uint8_t>(bytes, bytes + size), "fuzz input");
    for (const auto& [name, tensor] : file.tensors()) {
      try {
        tensor.ToFloat(name, /*allow_non_finite=*/true);
      } catch (const ple::convert::ConvertError&) {
      }
    }
  } catch (const ple::convert::ConvertError&) {
  }
  return 0;
}
