// Serialises the IR into the model file format (schema/ple_model.fbs), and writes files
// atomically.
#ifndef PLE_CONVERTER_MODEL_WRITER_H_
#define PLE_CONVERTER_MODEL_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"

namespace ple {
namespace convert {

// The model file image. Every weight vector is 64-byte aligned relative to the start of the
// image (so in place from an mmap or any 64-byte aligned buffer).
std::vector<uint8_t> SerializeModel(const IrModel& model, const std::string& producer);

// Writes `bytes` to a temporary file next to `path`, flushes it, then renames it over `path`:
// readers see the old file or the whole new one, never a partial file. Throws ConvertError.
void WriteFileAtomically(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_MODEL_WRITER_H_
