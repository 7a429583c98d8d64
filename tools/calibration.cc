#include "calibration.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "capi/c_api_internal.h"
#include "ple/ple.hpp"
#include "quantization_report.h"
#include "run/session.h"

namespace ple {
namespace tools {

InputRows RecordInputRows(const std::vector<uint8_t>& float32_model, const std::string& data) {
  ple::Model model = ple::Model::OpenBuffer(float32_model.data(), float32_model.size());
  const std::vector<RequestBatch> batches = ReadCandidates(data, model);
  ple::Session session(model, BatchSessionOptions(batches, PLE_KERNELS_REFERENCE));
  rt::Session& internal = *rt::InternalSession(session.get());
  const rt::Status status = internal.EnableInputRecording(true);
  if (!status.ok()) throw std::runtime_error(status.message());
  InputRows out;
  out.width = internal.model().row_width();
  out.requests = batches.size();
  std::vector<float> outputs;
  for (const RequestBatch& batch : batches) {
    outputs.clear();
    ScoreBatch(session, model, batch, &outputs);
    const std::vector<float>& recorded = internal.input_records();
    out.values.insert(out.values.end(), recorded.begin(), recorded.begin() + batch.candidates * out.width);
    out.rows += batch.candidates;
  }
  return out;
}

convert::InputSliceChoice CalibrateInputSlices(const convert::ConvertedModel& float32, const convert::PrecisionPlan& plan,
                                               const std::string& data, size_t* rows) {
  const InputRows input = RecordInputRows(float32.bytes, data);
  convert::IrModel ir = float32.ir;
  convert::PrecisionPlan layers = plan;  // the layers' precisions (ChooseInputSlices weighs the int8 ones)
  layers.input_scales = convert::PrecisionPlan::InputScales::kSegments;
  convert::AssignPrecisions(layers, &ir);
  *rows = input.rows;
  return convert::ChooseInputSlices(ir, input.values.data(), input.rows);
}

std::string DescribeInputSlices(const convert::InputSliceChoice& choice, const std::string& data, size_t rows) {
  std::string text = "input scales chosen on " + data + " (" + std::to_string(rows) + " candidates): ";
  if (choice.widths.empty()) return text + "no int8 first layer reads a range to split; one scale per segment";
  for (size_t s = 0; s < choice.described.size(); ++s) text += (s ? " | " : "") + choice.described[s];
  char ratio[160];
  std::snprintf(ratio, sizeof ratio,
                "; predicted first-layer rounding error %.2f of one scale per segment (one per feature: %.2f)",
                choice.relative_error, choice.relative_error_per_feature);
  return text + ratio;
}

}  // namespace tools
}  // namespace ple
