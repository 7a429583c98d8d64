// ple-convert's calibration: the float32 model's input rows on data the user gives, for the
// choices a quantized conversion makes from data (the int8 first layers' input slices,
// converter/src/input_slices.h).
#ifndef PLE_TOOLS_CALIBRATION_H_
#define PLE_TOOLS_CALIBRATION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "converter.h"
#include "input_slices.h"

namespace ple {
namespace tools {

struct InputRows {
  size_t rows = 0, requests = 0;
  uint32_t width = 0;        // floats per row: the model's input row
  std::vector<float> values; // rows x width, in the model's column order
};

// Every candidate of `data` (a bundle directory or ple-run's JSON lines, as --report-data takes)
// through `float32_model`, on the reference kernel path: the input rows its feature layer
// assembled, request columns included. Throws std::runtime_error or ple::Error naming the problem.
InputRows RecordInputRows(const std::vector<uint8_t>& float32_model, const std::string& data);

// `plan` with inputs=auto: the input slices chosen (input_slices.h) on `data`'s input rows
// through `float32` (the model converted with --precision f32), for the int8 layers `plan` makes.
// `rows`: how many candidates that was.
convert::InputSliceChoice CalibrateInputSlices(const convert::ConvertedModel& float32, const convert::PrecisionPlan& plan,
                                               const std::string& data, size_t* rows);

// One line for ple-convert: "input scales chosen on DATA (N candidates): ...".
std::string DescribeInputSlices(const convert::InputSliceChoice& choice, const std::string& data, size_t rows);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_CALIBRATION_H_
