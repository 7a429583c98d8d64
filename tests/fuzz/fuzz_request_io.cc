// ple-run's inputs (docs/ple-run.md): JSON lines, or CSV with a request given as JSON, for the
// bundled example model (every kind of feature). Reading either gives requests or throws
// std::runtime_error naming the line; nothing else may escape.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "converter.h"
#include "request_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  static const std::vector<uint8_t> model_bytes =
      ple::convert::ConvertNative(PLE_SOURCE_DIR "/examples/feed/config.json",
                                  PLE_SOURCE_DIR "/examples/feed/weights.safetensors", {}, {})
          .bytes;
  static const ple::Model plain = ple::Model::OpenBufferCopy(model_bytes.data(), model_bytes.size());
  // The same model with encoders: raw values (names, numbers) go through them (docs/encoders.md).
  static const std::vector<uint8_t> encoded_bytes =
      ple::convert::ConvertNative(PLE_SOURCE_DIR "/tests/data/encoders/config.json",
                                  PLE_SOURCE_DIR "/examples/feed/weights.safetensors", {}, {})
          .bytes;
  static const ple::Model encoded = ple::Model::OpenBufferCopy(encoded_bytes.data(), encoded_bytes.size());
  FuzzedDataProvider data(bytes, size);
  const ple::Model& model = data.ConsumeBool() ? encoded : plain;
  const bool csv = data.ConsumeBool();
  const std::string request_json = csv ? data.ConsumeRandomLengthString(256) : "";
  std::istringstream in(data.ConsumeRemainingBytesAsString());
  try {
    if (csv) {
      ple::tools::ReadCsv(in, model, request_json);
    } else {
      ple::tools::ReadJsonLines(in, model);
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
