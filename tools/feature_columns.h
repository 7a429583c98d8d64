// A batch of feature values held column by column (one column per feature or extra), the way
// the C API takes them (ple_feature_values). Shared by ple-run and ple-conformance.
#ifndef PLE_TOOLS_FEATURE_COLUMNS_H_
#define PLE_TOOLS_FEATURE_COLUMNS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ple/ple.hpp"

namespace ple {
namespace tools {

struct FeatureColumn {
  std::string name;
  ple_feature_kind kind = PLE_FEATURE_DENSE;
  bool request = false;            // a request-scope feature
  // Sparse and sequence features with an encoder take raw values (docs/encoders.md); the
  // readers encode them with the model's encoder into `ids`.
  const ple_model* model = nullptr;
  size_t index = 0;                // the feature's index in the model
  ple_encoder_kind encoder = PLE_ENCODER_NONE;
  bool extra = false;              // an extra (dense, width 1)
  size_t width = 1;                // dense: floats per row; sparse: 1; sequence: max_length
  std::vector<float> floats;       // dense, extra: rows x width
  std::vector<int64_t> ids;        // sparse: one per row; sequence: every row's ids, one row after another
  std::vector<uint32_t> lengths;   // sequence: ids per row
  std::vector<size_t> first_id;    // sequence: where row r's ids start

  size_t rows() const;
  void AppendSequence(const int64_t* ids, size_t count);
  // Rows [first, first + count) as C values; the pointers point into this column.
  ple_feature_values Rows(size_t first, size_t count) const;
};

// One empty column per feature and extra of `model`, in the model's order (features, then extras).
std::vector<FeatureColumn> ModelColumns(const Model& model);

// The C values of `columns` for rows [first, first + count): request columns (from row 0) or
// the others (candidate features, and the extras that have values).
std::vector<ple_feature_values> RequestValues(const std::vector<FeatureColumn>& columns);
std::vector<ple_feature_values> CandidateValues(const std::vector<FeatureColumn>& columns, size_t first,
                                                size_t count);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_FEATURE_COLUMNS_H_
