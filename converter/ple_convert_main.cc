// ple-convert: a model config + safetensors weights -> one PLE model file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "calibration.h"
#include "precision_planner.h"
#include "converter.h"
#include "cost_model.h"
#include "convert_error.h"
#include "model_writer.h"
#include "quantization_report.h"
#include "version_text.h"

namespace {

struct ConvertOptions {
  std::string config_path, weights_path, output_path, source = "native", layout = "out_in", precision = "f32",
                                                       report_data, sign_key_path, key_prefix, check_data,
                                                       calibration_data, target = "x86-avx512vnni";
  bool quiet = false;
  uint32_t max_reader_version = ple::kReaderVersion;
};

// Returns --generate-signing-key's option: given, it replaces the conversion.
CLI::Option* AddOptions(CLI::App& app, ConvertOptions* o) {
  auto* config_option =
      app.add_option("--config,-c", o->config_path, "model config (JSON); with --from onnx the optional sidecar")
          ->check(CLI::ExistingFile);
  auto* weights_option =
      app.add_option("--weights,-w", o->weights_path, "weights (safetensors); with --from onnx the ONNX file")
          ->check(CLI::ExistingFile);
  auto* output_option = app.add_option("--output,-o", o->output_path, "model file to write (.ple)");
  app.add_option("--from", o->source,
                 "what the config and weights are: native (docs/config-format.md), torch-rechub or deepctr-torch "
                 "(the framework's own constructor arguments and state_dict, docs/importing.md), or onnx (an "
                 "exported ONNX graph as --weights, recognized and self-checked; builds with the ONNX import)")
      ->check(CLI::IsMember({"native", "torch-rechub", "deepctr-torch", "onnx"}));
  app.add_option("--max-reader-version", o->max_reader_version,
                 "the oldest runtime reader version that must load the file (default 4, this runtime's; 3 refuses "
                 "per-feature input scales; 2 writes float32 layers unpacked for runtimes of reader 2 and refuses "
                 "what needs 3: docs/file-format.md, 'Reader versions')");
  app.add_option("--check-data", o->check_data,
                 "with --from onnx: JSON {\"inputs\": {name: {\"shape\": [...], \"values\": [...]}}, \"outputs\": "
                 "{...}} as ONNX Runtime takes and gives them (outputs optional); the converted model is compared "
                 "with the graph on these inputs, and with these outputs, too (docs/importing.md)")
      ->check(CLI::ExistingFile);
  app.add_option("--weights-layout", o->layout,
                 "Linear kernels are out_in (PyTorch, default) or in_out (TensorFlow/Keras, Paddle: transposed)")
      ->check(CLI::IsMember({"out_in", "in_out"}));
  app.add_option("--precision,-p", o->precision,
                 "how weights are stored: f32 (default), f16, or int8 (the default mix of docs/quantization.md); "
                 "per layer class overrides follow, e.g. int8,gates=int8,towers=f16 "
                 "(classes: embeddings, experts, gates, towers, heads); 'narrow' puts int8 layer weights in "
                 "[-64, 64] (faster on AVX2 without VNNI, one bit less precise), e.g. int8,narrow; "
                 "auto:TARGETS chooses each layer's precision to keep the ranking, e.g. auto:top5=0.995,tau=0.98 "
                 "(needs --calibration-data to plan and --report-data to verify; docs/quantization.md)");
  app.add_option("--report-data", o->report_data,
                 "with a quantized precision: also convert to float32 and report, per task, the max and mean "
                 "absolute output difference and (binary tasks with labels) the AUC difference on this data: a "
                 "conformance bundle directory or ple-run's JSON lines (docs/quantization.md)");
  app.add_option("--calibration-data", o->calibration_data,
                 "with int8 experts or gates: choose the first layers' input scales on this data (as --report-data "
                 "takes it; keep it apart from the report's): features whose ranges differ get a scale of their own "
                 "(inputs=auto, docs/quantization.md 'Input scales')")
      ->check(CLI::ExistingPath);
  app.add_option("--target", o->target,
                 "with --precision auto:...: the CPU whose measured costs the plan minimizes (x86-avx512vnni, "
                 "default; x86-avx2)");
  app.add_option("--sign-key", o->sign_key_path,
                 "sign the file's integrity trailer with this Ed25519 secret key (64 bytes; needs a build with "
                 "libsodium; docs/file-format.md)")
      ->check(CLI::ExistingFile);
  auto* generate_option = app.add_option("--generate-signing-key", o->key_prefix,
                 "write a new Ed25519 key pair to PREFIX.key (secret, mode 0600) and PREFIX.pub (the 32-byte public "
                 "key apps pin), then exit")
      ->excludes(config_option)->excludes(weights_option)->excludes(output_option);
  app.add_flag("--quiet,-q", o->quiet, "print nothing on success");
  app.set_version_flag("--version", ple::tools::VersionText("ple-convert"));
  return generate_option;
}

// What was written: the model's size and shape, the precision and the file's SHA-256.
void PrintSummary(const ConvertOptions& o, const ple::convert::ConvertedModel& model, const std::vector<uint8_t>& file,
                  const std::string& precision) {
  size_t experts = 0;
  for (const auto& level : model.ir.levels) experts += level.experts.size();
  std::printf("ple-convert: wrote %s (%zu bytes): %zu tasks, %zu features (%u floats per input row), "
              "%zu embedding tables, %zu levels, %zu experts, %zu dense layers, %zu parameters, %llu multiply-adds "
              "per candidate\n",
              o.output_path.c_str(), file.size(), model.ir.tasks.size(), model.ir.features.size(),
              model.ir.row_width(), model.ir.tables.size(), model.ir.levels.size(), experts, model.ir.layer_count(),
              model.ir.parameter_count(), static_cast<unsigned long long>(ple::convert::CandidateMacs(model.ir)));
  for (const std::string& note : model.notes) std::printf("ple-convert: %s\n", note.c_str());
  if (o.max_reader_version < 3) {
    std::printf("ple-convert: runtimes of reader version %u and newer load it (float32 layers unpacked)\n",
                o.max_reader_version);
  }
  std::printf("ple-convert: precision %s\n", precision.c_str());
  std::printf("ple-convert: sha256 %s%s\n", ple::convert::Sha256Hex(file).c_str(),
              o.sign_key_path.empty() ? "" : " (signed)");
}

// The float32 conversion that the calibration, the planner and the report compare with:
// converted once, when first needed.
class Float32Reference {
 public:
  Float32Reference(const ConvertOptions& o, const ple::convert::ImportOptions& options) : o_(o), options_(options) {}
  // `why`: what it is for, in the progress line; `check_data`: --check-data, for an ONNX import.
  const ple::convert::ConvertedModel& Get(const std::string& why, const std::string& check_data = "") {
    if (!model_) {
      std::fflush(stdout);
      std::fprintf(stderr, "ple-convert: converting to float32 %s\n", why.c_str());
      model_ = ple::convert::Convert(ple::convert::ParseSource(o_.source), o_.config_path, o_.weights_path, options_,
                                     {}, check_data);
    }
    return *model_;
  }

 private:
  const ConvertOptions& o_;
  const ple::convert::ImportOptions& options_;
  std::optional<ple::convert::ConvertedModel> model_;
};

// --report-data: how far the quantized `file` is from float32.
void PrintQuantizationReport(const ConvertOptions& o, Float32Reference& reference, const std::vector<uint8_t>& file) {
  const ple::convert::ConvertedModel& float32 = reference.Get("and scoring " + o.report_data + " for the report");
  const ple::tools::QuantizationReport report = ple::tools::CompareOnData(float32.bytes, file, o.report_data);
  std::fflush(stderr);
  std::fputs(ple::tools::FormatQuantizationReport(report, o.precision).c_str(), stdout);
}

// --calibration-data: with int8 first layers, inputs=auto unless the spec says otherwise, and
// the slices chosen on the data (tools/calibration.h).
void ChooseInputScales(const ConvertOptions& o, Float32Reference& reference, ple::convert::PrecisionPlan* plan) {
  using InputScales = ple::convert::PrecisionPlan::InputScales;
  const bool int8_first = plan->experts == ple::convert::Precision::kI8 || plan->gates == ple::convert::Precision::kI8;
  if (!o.calibration_data.empty() && !int8_first) {
    throw ple::convert::ConvertError("--calibration-data chooses int8 input scales: give --precision int8");
  }
  if (!o.calibration_data.empty() && !plan->input_scales_given) plan->input_scales = InputScales::kAuto;
  if (plan->input_scales != InputScales::kAuto) return;
  if (o.calibration_data.empty()) {
    throw ple::convert::ConvertError("inputs=auto chooses the input scales on calibration data: give --calibration-data");
  }
  const ple::convert::ConvertedModel& float32 =
      reference.Get("and reading " + o.calibration_data + " to choose the input scales");
  size_t rows = 0;
  const ple::convert::InputSliceChoice choice = ple::tools::CalibrateInputSlices(float32, *plan, o.calibration_data, &rows);
  if (!o.quiet) std::printf("ple-convert: %s\n", ple::tools::DescribeInputSlices(choice, o.calibration_data, rows).c_str());
  plan->input_slices = choice.widths;
  if (choice.widths.empty()) plan->input_scales = InputScales::kSegments;
}

// Signs when asked and writes the file atomically; returns what was written.
std::vector<uint8_t> WriteModelFile(const ConvertOptions& o, const std::vector<uint8_t>& bytes) {
  const std::vector<uint8_t> file =
      o.sign_key_path.empty() ? bytes : ple::convert::SignModel(bytes, ple::convert::ReadFileBytes(o.sign_key_path));
  ple::convert::WriteFileAtomically(o.output_path, file);
  return file;
}

// --precision auto:...: the plan (tools/precision_planner.h), printed, then written and reported.
void ConvertAuto(const ConvertOptions& o, Float32Reference& reference) {
  const ple::tools::AutoPrecisionSpec spec = ple::tools::AutoPrecisionSpec::Parse(o.precision.substr(5));
  const ple::convert::CostTarget& target = ple::convert::FindCostTarget(o.target);
  if (o.calibration_data.empty() || o.report_data.empty()) {
    throw ple::convert::ConvertError("--precision auto: plans on --calibration-data and verifies on --report-data "
                                     "(separate data): give both");
  }
  ple::convert::WriteOptions write;
  write.max_reader_version = o.max_reader_version;
  const ple::convert::ConvertedModel& float32 = reference.Get("to plan " + spec.ToString(), o.check_data);
  std::fprintf(stderr, "ple-convert: planning %s for %s on %s\n", spec.ToString().c_str(), target.name,
               o.calibration_data.c_str());
  const ple::tools::PrecisionChoice choice = ple::tools::ChoosePrecisions(
      float32, spec, target, o.calibration_data, o.report_data, write,
      [&](const std::string& line) { if (!o.quiet) std::fprintf(stderr, "ple-convert: auto: %s\n", line.c_str()); });
  const std::vector<uint8_t> file = WriteModelFile(o, choice.file);
  if (o.quiet) return;
  PrintSummary(o, float32, file, spec.ToString() + " (per layer, below)");  // its shape and notes; `file` the plan's
  std::fputs(choice.plan.c_str(), stdout);
  PrintQuantizationReport(o, reference, choice.file);
}

// Converts, signs when asked, writes the file atomically, then reports. Throws ConvertError,
// or std::runtime_error for the report's data.
void ConvertModel(const ConvertOptions& o) {
  ple::convert::ImportOptions options;
  options.naming.transpose_linear = o.layout == "in_out";
  if (!o.check_data.empty() && o.source != "onnx") {
    throw ple::convert::ConvertError("--check-data checks an ONNX import: give --from onnx");
  }
  Float32Reference reference(o, options);
  if (o.precision.rfind("auto:", 0) == 0) return ConvertAuto(o, reference);
  ple::convert::PrecisionPlan precision_plan = ple::convert::PrecisionPlan::Parse(o.precision);
  ChooseInputScales(o, reference, &precision_plan);
  ple::convert::WriteOptions write;
  write.max_reader_version = o.max_reader_version;
  const ple::convert::ConvertedModel model = ple::convert::Convert(
      ple::convert::ParseSource(o.source), o.config_path, o.weights_path, options, precision_plan, o.check_data, write);
  if (!o.report_data.empty() && !precision_plan.quantized()) {
    throw ple::convert::ConvertError("--report-data compares a quantized conversion with float32: give --precision");
  }
  const std::vector<uint8_t> file = WriteModelFile(o, model.bytes);
  if (!o.quiet) PrintSummary(o, model, file, precision_plan.ToString());
  if (!o.report_data.empty()) PrintQuantizationReport(o, reference, model.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ple-convert: convert a PLE-family model (config JSON + safetensors weights, PyTorch [out, in] layout,\n"
      "native naming of docs/config-format.md) into one model file for the PLE runtime.\n"
      "BatchNorm is folded into the preceding Linear; every tensor is validated; the output is written\n"
      "to a temporary file and renamed, so a failure never leaves a partial file."};
  ConvertOptions o;
  const CLI::Option* generate_option = AddOptions(app, &o);
  CLI11_PARSE(app, argc, argv);
  const bool config_needed = o.source != "onnx";
  if (generate_option->count() == 0 &&
      ((config_needed && o.config_path.empty()) || o.weights_path.empty() || o.output_path.empty())) {
    std::fprintf(stderr, "ple-convert: --config (but with --from onnx), --weights and --output are required (--help)\n");
    return 1;
  }

  try {
    if (!o.key_prefix.empty()) {
      ple::convert::GenerateSigningKey(o.key_prefix);
      if (!o.quiet) {
        std::printf("ple-convert: wrote %s.key (secret) and %s.pub\n", o.key_prefix.c_str(), o.key_prefix.c_str());
      }
      return 0;
    }
    ConvertModel(o);
  } catch (const ple::convert::ConvertError& e) {
    std::fprintf(stderr, "ple-convert: error: %s\n", e.what());
    return 1;
  } catch (const std::runtime_error& e) {  // the report's or the calibration's data
    std::fprintf(stderr, "ple-convert: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-convert: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
