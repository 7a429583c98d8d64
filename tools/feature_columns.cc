#include "feature_columns.h"

namespace ple {
namespace tools {

size_t FeatureColumn::rows() const {
  switch (kind) {
    case PLE_FEATURE_SPARSE: return ids.size();
    case PLE_FEATURE_SEQUENCE: return lengths.size();
    default: return width == 0 ? 0 : floats.size() / width;
  }
}

void FeatureColumn::AppendSequence(const int64_t* values, size_t count) {
  first_id.push_back(ids.size());
  lengths.push_back(static_cast<uint32_t>(count));
  ids.insert(ids.end(), values, values + count);
}

ple_feature_values FeatureColumn::Rows(size_t first, size_t count) const {
  ple_feature_values v{name.c_str(), nullptr, 0, nullptr, 0, nullptr};
  switch (kind) {
    case PLE_FEATURE_DENSE:
      v.values = floats.data() + first * width;
      v.num_values = count * width;
      break;
    case PLE_FEATURE_SPARSE:
      v.ids = ids.data() + first;
      v.num_ids = count;
      break;
    case PLE_FEATURE_SEQUENCE: {
      v.ids = ids.data() + (first < first_id.size() ? first_id[first] : ids.size());
      v.lengths = lengths.data() + first;
      for (size_t r = first; r < first + count; ++r) v.num_ids += lengths[r];
      break;
    }
  }
  return v;
}

std::vector<FeatureColumn> ModelColumns(const Model& model) {
  std::vector<FeatureColumn> columns;
  for (const FeatureInfo& f : model.features()) {
    FeatureColumn c;
    c.name = f.name;
    c.kind = f.kind;
    c.request = f.scope == PLE_SCOPE_REQUEST;
    c.width = f.width;
    c.model = model.get();
    c.index = columns.size();
    c.encoder = ple_model_feature_encoder(model.get(), c.index);
    columns.push_back(std::move(c));
  }
  for (const std::string& extra : model.extras()) {
    FeatureColumn c;
    c.name = extra;
    c.extra = true;
    columns.push_back(std::move(c));
  }
  return columns;
}

std::vector<ple_feature_values> RequestValues(const std::vector<FeatureColumn>& columns) {
  std::vector<ple_feature_values> values;
  for (const FeatureColumn& c : columns) {
    if (c.request) values.push_back(c.Rows(0, 1));
  }
  return values;
}

std::vector<ple_feature_values> CandidateValues(const std::vector<FeatureColumn>& columns, size_t first,
                                                size_t count) {
  std::vector<ple_feature_values> values;
  for (const FeatureColumn& c : columns) {
    if (c.request || (c.extra && c.floats.empty())) continue;
    values.push_back(c.Rows(first, count));
  }
  return values;
}

}  // namespace tools
}  // namespace ple
