// The feature layer: turns each feature's values (dense floats, ids, id sequences) into its
// columns of the model's input row. Scalar, allocation-free, deterministic (ascending order).
// Errors (an out-of-vocabulary id under the error policy, a NaN under nan: error, a sequence
// longer than max_length) are reported through SetLastError naming the feature and the row.
#ifndef PLE_RUNTIME_RUN_FEATURE_LAYER_H_
#define PLE_RUNTIME_RUN_FEATURE_LAYER_H_

#include <cstddef>
#include <cstdint>

#include "load/model.h"

namespace ple::rt {

// Where one feature's values for a batch of rows come from (caller-owned, read only).
struct FeatureSource {
  const float* dense = nullptr;      // dense: row r at dense + r * dense_stride
  size_t dense_stride = 0;           // floats
  const int64_t* ids = nullptr;      // sparse: ids[r]; sequence: every row's ids, one row after another
  const uint32_t* lengths = nullptr; // sequence: ids of row r; nullptr: every row has max_length ids
  size_t next_id = 0;                // sequence: index in `ids` of the next row's first id (advanced as rows are read)
};

// Writes rows [first_row, first_row + rows) of `feature` into out (row r at out + r * out_stride,
// starting at the column `column`). `row_label` is added to r in error messages (the
// candidate's index in the caller's batch). Sequence sources must be read in row order.
ple_status AssembleFeature(const LoadedModel& model, const FeatureSpec& feature, FeatureSource* source, size_t first_row,
                           size_t rows, size_t row_label, float* out, size_t out_stride, size_t column);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_FEATURE_LAYER_H_
