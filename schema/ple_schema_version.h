// Versions of the model file format (docs/file-format.md). One definition, used by the
// converter (what it writes) and the runtime (what it reads).
#ifndef PLE_SCHEMA_VERSION_H_
#define PLE_SCHEMA_VERSION_H_

#include <cstdint>

namespace ple {

// The schema revision a writer used; a reader knows every field up to its own revision.
constexpr uint32_t kSchemaVersion = 3;
// This library's reader version: it loads every file whose min_reader_version <= this.
constexpr uint32_t kReaderVersion = 3;
// What the converter writes as min_reader_version: files that use only revision-1 fields
// (dense inputs, no score) stay readable by revision-1 readers; a feature layer, Dice or a
// score needs revision 2.
constexpr uint32_t kMinReaderVersionDenseOnly = 1;
constexpr uint32_t kMinReaderVersionFeatures = 2;
// Quantized (int8 or float16) weights in packed groups, or int8 embedding tables.
constexpr uint32_t kMinReaderVersionQuantized = 3;

}  // namespace ple

#endif  // PLE_SCHEMA_VERSION_H_
