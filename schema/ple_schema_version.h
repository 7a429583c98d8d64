// Versions of the model file format (docs/file-format.md). One definition, used by the
// converter (what it writes) and the runtime (what it reads).
#ifndef PLE_SCHEMA_VERSION_H_
#define PLE_SCHEMA_VERSION_H_

#include <cstdint>

namespace ple {

// The schema revision a writer used; a reader knows every field up to its own revision.
constexpr uint32_t kSchemaVersion = 6;  // 4: optional feature encoders (readers of 3 ignore them);
                                        // 5: narrow int8 weights flagged per group (older readers ignore it);
                                        // 6: int8 input slices with their own scales (reader 4)
// This library's reader version: it loads every file whose min_reader_version <= this.
constexpr uint32_t kReaderVersion = 4;
// The schema revision that introduced this reader version: ple_schema_version_string() is
// "READER.(kSchemaVersion - this).0", its minor counting the revisions since that only added
// fields this reader may ignore.
constexpr uint32_t kReaderVersionSchema = 6;
// What converters wrote as min_reader_version: revision 1 (dense inputs, row-major float32
// layers), revision 2 (a feature layer, Dice or a score). Readers still load both.
constexpr uint32_t kMinReaderVersionDenseOnly = 1;
constexpr uint32_t kMinReaderVersionFeatures = 2;
// What this converter writes: every layer's weights in packed groups (float32, float16 or
// int8), the feature layer always in its revision-2 form, int8 embedding tables possible.
constexpr uint32_t kMinReaderVersionPacked = 3;
// Files with an int8 group in input slices (PackedGroup.slice_widths: per-feature input scales).
constexpr uint32_t kMinReaderVersionSlices = 4;
// An int8 group has at most this many input slices (each one more GEMM pass over its columns).
constexpr uint32_t kMaxInt8Slices = 64;

// An int8 packed group reads at most this many inputs, so that the int32 dot products with
// their zero-point correction (|.| <= 2 * 255 * 127 * K) cannot overflow.
constexpr uint32_t kMaxInt8Inputs = 16384;

// Narrow int8 weights (PackedGroup.narrow_weights) lie in [-kNarrowInt8Limit, kNarrowInt8Limit]:
// a pair of uint8 x int8 products is then at most 255 * 64 * 2 = 32,640, within int16.
constexpr int kNarrowInt8Limit = 64;
static_assert(255 * kNarrowInt8Limit * 2 <= 32767, "narrow int8 pair sums must fit int16");

}  // namespace ple

#endif  // PLE_SCHEMA_VERSION_H_
