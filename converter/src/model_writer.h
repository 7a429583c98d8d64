// Serialises the IR into the model file format (schema/ple_model.fbs), and writes files
// atomically.
#ifndef PLE_CONVERTER_MODEL_WRITER_H_
#define PLE_CONVERTER_MODEL_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"
#include "ple_schema_version.h"

namespace ple {
namespace convert {

struct WriteOptions {
  // The oldest runtime reader version that must load the file (docs/file-format.md, "Reader
  // versions"): 4 (default, this runtime's) writes anything; 3 refuses int8 input slices
  // (per-feature input scales); 2 also writes float32 layers unpacked, as readers of 2 read
  // them, and refuses every quantized layer.
  uint32_t max_reader_version = kReaderVersion;
};

// The oldest reader version `model` needs in the packed layout (3) and in the unpacked one,
// with what needs it: "int8 layers (--precision int8)", ... (`why` empty: nothing beyond the
// feature layer of revision 2).
uint32_t UnpackedReaderVersionNeeded(const IrModel& model, std::string* why);

// The model file image. Every weight vector is 64-byte aligned relative to the start of the
// image (so in place from an mmap or any 64-byte aligned buffer). It ends with the integrity
// trailer (runtime/src/load/integrity.h), unsigned. The same IR gives the same bytes. Throws
// ConvertError when `options.max_reader_version` cannot read the model, naming what needs more.
std::vector<uint8_t> SerializeModel(const IrModel& model, const std::string& producer, const WriteOptions& options = {});

// `file` (SerializeModel's) with its trailer signed by an Ed25519 secret key (64 bytes, as
// libsodium and ple-convert --generate-signing-key make them). Needs libsodium; throws
// ConvertError otherwise.
std::vector<uint8_t> SignModel(const std::vector<uint8_t>& file, const std::vector<uint8_t>& secret_key);

// A new Ed25519 key pair: PREFIX.key (64 bytes, libsodium's secret key, created with mode
// 0600) and PREFIX.pub (32 bytes). Needs libsodium; throws ConvertError.
void GenerateSigningKey(const std::string& prefix);

// A whole file's bytes; throws ConvertError naming it.
std::vector<uint8_t> ReadFileBytes(const std::string& path);

// The SHA-256 of `bytes` in lowercase hex (what sha256sum prints, and what apps pin).
std::string Sha256Hex(const std::vector<uint8_t>& bytes);

// Writes `bytes` to a temporary file next to `path`, flushes it, then renames it over `path`:
// readers see the old file or the whole new one, never a partial file. Throws ConvertError.
void WriteFileAtomically(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_MODEL_WRITER_H_
