// Choosing an int8 first layer's input slices on calibration data (docs/quantization.md, "Input
// scales"; docs/architecture.md, "Per-feature input scales at level 1"). Each slice of the
// input row is quantized per row with its own scale, so a feature with a wide range (an outlier
// user_activity) no longer coarsens its neighbours; each slice beyond the first costs one more
// GEMM pass over the layer's columns (once per request for the request columns).
#ifndef PLE_CONVERTER_INPUT_SLICES_H_
#define PLE_CONVERTER_INPUT_SLICES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"

namespace ple {
namespace convert {

struct InputSliceChoice {
  std::vector<uint32_t> widths;        // slices of whole features, in row order (IrModel::input_slices)
  std::vector<std::string> described;  // per slice: its features' names, space-separated
  // The predicted rounding error of the first layers' products (below), relative to one scale
  // per segment: 1 when the choice is the segments themselves.
  double relative_error = 1.0;
  double relative_error_per_feature = 1.0;  // ... with one scale per feature, for comparison
};

// Within each segment of the row (the request columns and the others when the model splits
// them, else the whole row), partitions into contiguous runs of features, judged by their
// predicted error: over the calibration rows, the sum over slices of ((hi - lo) / 255)^2 times
// the sum of the squared first-layer int8 weights of the slice's columns (lo, hi: the row's
// range over the slice, zero included, as the runtime quantizes), the expected squared rounding
// error of the products. Slices cost time. The request columns' product runs once per request
// (with a request context), so that segment takes the fewest slices within kRequestSliceSlack
// of its best partition. Every other slice is one more GEMM pass per candidate, which costs
// about kSlicePassBlocks blocks of 4 inputs (bench-m at batch 200 with a slice per feature, 11
// candidate slices of 42 blocks: 1.6x the whole model's time, about 46 us per extra pass where
// a block costs 5), so a candidate segment takes the number of slices whose best partition has
// the least predicted error x predicted time (its blocks plus kSlicePassBlocks per slice). At
// most kMaxAutoSlices per segment. `rows`: row_count rows of model.row_width() floats (the
// float32 model's input rows). A model without an int8 first layer gets no slices.
constexpr double kRequestSliceSlack = 1.25;
constexpr double kSlicePassBlocks = 8.0;
constexpr uint32_t kMaxAutoSlices = 8;
InputSliceChoice ChooseInputSlices(const IrModel& model, const float* rows, size_t row_count);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_INPUT_SLICES_H_
