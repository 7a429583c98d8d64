#include "input_slices.h"

#include <algorithm>
#include <limits>

namespace ple {
namespace convert {
namespace {

// Per column of the input row: the sum of the squared weights the int8 first layers give it.
std::vector<double> ColumnWeights(const IrModel& model) {
  std::vector<double> weights(model.row_width(), 0.0);
  if (model.levels.empty()) return weights;
  auto add = [&](const IrMlp& mlp) {
    if (mlp.layers.empty() || mlp.layers[0].precision != Precision::kI8) return;
    const IrDense& layer = mlp.layers[0];
    for (uint32_t o = 0; o < layer.out; ++o) {
      for (uint32_t k = 0; k < layer.in && k < weights.size(); ++k) {
        const double w = layer.weight[size_t{o} * layer.in + k];
        weights[k] += w * w;
      }
    }
  };
  for (const IrExpert& e : model.levels[0].experts) add(e.mlp);
  for (const IrGate& g : model.levels[0].gates) add(g.mlp);
  return weights;
}

// The features [begin, end) of a segment and their columns.
struct Segment {
  size_t begin = 0, end = 0;
  bool per_request = false;  // the split row's request columns: their product runs once per request
};

class SegmentErrors {
 public:
  // error(a, b): predicted error of one slice holding features [a, b) of the segment.
  SegmentErrors(const IrModel& model, const std::vector<uint32_t>& first_column, const std::vector<double>& weights,
                const float* rows, size_t row_count, Segment segment)
      : count_(segment.end - segment.begin), errors_(count_ * count_, 0.0) {
    const size_t width = model.row_width();
    std::vector<float> lo(row_count), hi(row_count);
    for (size_t a = 0; a < count_; ++a) {
      std::fill(lo.begin(), lo.end(), 0.0f);
      std::fill(hi.begin(), hi.end(), 0.0f);
      double weight = 0.0;
      for (size_t b = a; b < count_; ++b) {
        const size_t f = segment.begin + b;
        const uint32_t c0 = first_column[f], c1 = first_column[f + 1];
        for (uint32_t c = c0; c < c1; ++c) weight += weights[c];
        double sum = 0.0;
        for (size_t r = 0; r < row_count; ++r) {
          const float* row = rows + r * width;
          for (uint32_t c = c0; c < c1; ++c) {
            lo[r] = std::min(lo[r], row[c]);
            hi[r] = std::max(hi[r], row[c]);
          }
          const double step = (static_cast<double>(hi[r]) - lo[r]) / 255.0;
          sum += step * step;
        }
        errors_[a * count_ + b] = row_count > 0 ? sum / static_cast<double>(row_count) * weight : 0.0;
      }
    }
  }
  double error(size_t a, size_t b) const { return errors_[a * count_ + (b - 1)]; }
  size_t count() const { return count_; }

 private:
  size_t count_;
  std::vector<double> errors_;
};

// The best partition of the segment's features into m = 1.. slices (dynamic programming), and
// the m chosen (input_slices.h): slice ends, feature indices within the segment. `widths`: the
// segment's features' widths, for the time of the candidate products.
std::vector<size_t> BestPartition(const SegmentErrors& errors, const std::vector<uint32_t>& widths, bool per_request,
                                  double* error) {
  const size_t n = errors.count(), most = std::min<size_t>(n, kMaxAutoSlices);
  const double infinity = std::numeric_limits<double>::infinity();
  // best[m][j]: features [0, j) in m slices; from[m][j]: where the last slice starts.
  std::vector<std::vector<double>> best(most + 1, std::vector<double>(n + 1, infinity));
  std::vector<std::vector<size_t>> from(most + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (size_t m = 1; m <= most; ++m) {
    for (size_t j = m; j <= n; ++j) {
      for (size_t i = m - 1; i < j; ++i) {
        const double e = best[m - 1][i] + errors.error(i, j);
        if (e < best[m][j]) {
          best[m][j] = e;
          from[m][j] = i;
        }
      }
    }
  }
  auto ends_of = [&](size_t m) {
    std::vector<size_t> ends;
    for (size_t j = n; m > 0; j = from[m][j], --m) ends.push_back(j);
    std::reverse(ends.begin(), ends.end());
    return ends;
  };
  // Predicted time of a candidate product in slices: its 4-value blocks plus a pass per slice.
  auto time_of = [&](const std::vector<size_t>& ends) {
    double blocks = 0.0;
    for (size_t s = 0, start = 0; s < ends.size(); start = ends[s], ++s) {
      uint32_t k = 0;
      for (size_t f = start; f < ends[s]; ++f) k += widths[f];
      blocks += (k + 3) / 4 + kSlicePassBlocks;
    }
    return blocks;
  };
  size_t chosen = 1;
  if (per_request) {
    double lowest = infinity;
    for (size_t m = 1; m <= most; ++m) lowest = std::min(lowest, best[m][n]);
    while (best[chosen][n] > kRequestSliceSlack * lowest) ++chosen;
  } else {
    double product = best[1][n] * time_of(ends_of(1));
    for (size_t m = 2; m <= most; ++m) {
      const double p = best[m][n] * time_of(ends_of(m));
      if (p < product) product = p, chosen = m;
    }
  }
  *error = best[chosen][n];
  return ends_of(chosen);
}

}  // namespace

InputSliceChoice ChooseInputSlices(const IrModel& model, const float* rows, size_t row_count) {
  InputSliceChoice choice;
  const std::vector<double> weights = ColumnWeights(model);
  std::vector<uint32_t> first_column{0};
  size_t request_features = 0;
  for (const FeatureConfig& f : model.features) {
    first_column.push_back(first_column.back() + f.width);
    request_features += f.scope == fb::Scope::Request ? 1 : 0;
  }
  const size_t features = model.features.size();
  // The runtime splits the row where every request feature comes first (the writer's packer).
  bool split = request_features > 0 && request_features < features;
  for (size_t f = 0; f < request_features && split; ++f) split = model.features[f].scope == fb::Scope::Request;
  std::vector<Segment> segments;
  if (split) {
    segments.push_back(Segment{0, request_features, true});
    segments.push_back(Segment{request_features, features, false});
  } else if (features > 0) {
    segments.push_back(Segment{0, features, false});
  }
  double segments_error = 0.0, chosen_error = 0.0, per_feature_error = 0.0;
  for (const Segment& segment : segments) {
    const SegmentErrors errors(model, first_column, weights, rows, row_count, segment);
    segments_error += errors.error(0, errors.count());
    for (size_t f = 0; f < errors.count(); ++f) per_feature_error += errors.error(f, f + 1);
    double error = 0.0;
    size_t start = 0;
    std::vector<uint32_t> widths;
    for (size_t f = segment.begin; f < segment.end; ++f) widths.push_back(model.features[f].width);
    for (size_t end : BestPartition(errors, widths, segment.per_request, &error)) {
      choice.widths.push_back(first_column[segment.begin + end] - first_column[segment.begin + start]);
      std::string names;
      for (size_t f = segment.begin + start; f < segment.begin + end; ++f) {
        names += (names.empty() ? "" : " ") + model.features[f].name;
      }
      choice.described.push_back(names);
      start = end;
    }
    chosen_error += error;
  }
  if (!(segments_error > 0.0)) {  // no int8 first layer, or no range anywhere: nothing to gain
    choice.widths.clear();
    choice.described.clear();
    return choice;
  }
  choice.relative_error = chosen_error / segments_error;
  choice.relative_error_per_feature = per_feature_error / segments_error;
  return choice;
}

}  // namespace convert
}  // namespace ple
