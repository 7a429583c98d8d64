// Versions of the model file format (docs/file-format.md). One definition, used by the
// converter (what it writes) and the runtime (what it reads).
#ifndef PLE_SCHEMA_VERSION_H_
#define PLE_SCHEMA_VERSION_H_

#include <cstdint>

namespace ple {

// The schema revision a writer used; a reader knows every field up to its own revision.
constexpr uint32_t kSchemaVersion = 1;
// This library's reader version: it loads every file whose min_reader_version <= this.
constexpr uint32_t kReaderVersion = 1;
// What the converter writes as min_reader_version for files that use only revision-1 fields.
constexpr uint32_t kMinReaderVersionWritten = 1;

}  // namespace ple

#endif  // PLE_SCHEMA_VERSION_H_
