// Per-feature input scales at level 1 (docs/quantization.md, "Input scales"): the file's input
// slices, what reads them and what refuses them, the choice made on calibration data, and the
// accuracy they buy on the example model. Bit-identity across paths, batches and threads:
// determinism_test.cc (its int8,inputs=features subjects) and the bundles' all-int8 files.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "calibration.h"
#include "converter.h"
#include "input_slices.h"
#include "load/model_reader.h"
#include "ple/ple.hpp"
#include "ple_model_generated.h"
#include "ple_schema_version.h"
#include "quantization_report.h"
#include "test_util.h"

using namespace ple::convert;

namespace {

std::string Example(const std::string& file) { return ple::test::SourcePath("examples/feed/" + file); }

ConvertedModel ConvertExample(const std::string& precision, const WriteOptions& write = {}) {
  return Convert(Source::kNative, Example("config.json"), Example("weights.safetensors"), {},
                 PrecisionPlan::Parse(precision), "", write);
}

// The example's held-out outputs (candidates x tasks) on the reference path.
std::vector<float> HeldoutOutputs(const std::vector<uint8_t>& bytes) {
  ple::test::AlignedBuffer buffer(bytes);
  ple::Model model = ple::Model::OpenBuffer(buffer.data(), buffer.size());
  const auto batches = ple::tools::ReadCandidates(Example("heldout.jsonl"), model);
  return ple::tools::ScoreBatches(model, batches, nullptr, PLE_KERNELS_REFERENCE);
}

double MaxClickError(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); i += 3) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

struct PinnedReader {
  explicit PinnedReader(uint32_t version) { ple::rt::SetReaderVersionForTesting(version); }
  ~PinnedReader() { ple::rt::SetReaderVersionForTesting(0); }
};

}  // namespace

TEST_CASE("input scales: inputs=features gives the first int8 groups a slice per feature, readers of 3 refuse the "
          "file and --max-reader-version 3 refuses the option",
          "[input_scales][versions]") {
  const ConvertedModel sliced = ConvertExample("int8,inputs=features");
  const ple::fb::Model* root = ple::fb::GetModel(sliced.bytes.data());
  CHECK(root->min_reader_version() == ple::kMinReaderVersionSlices);
  size_t sliced_groups = 0;
  for (const ple::fb::PackedGroup* g : *root->packed_groups()) {
    if (g->slice_widths() == nullptr) continue;
    ++sliced_groups;
    // user_id 8, history 8, hour 4, user_activity 1 | video_id 8, video_category 4, video_quality 2
    CHECK(std::vector<uint32_t>(g->slice_widths()->begin(), g->slice_widths()->end()) ==
          std::vector<uint32_t>{8, 8, 4, 1, 8, 4, 2});
    CHECK(g->slice_sums()->size() == 7 * g->columns());
    CHECK(g->request_sums() == nullptr);
    // Each slice padded to 4 values: 2 + 2 + 1 + 1 + 2 + 1 + 1 blocks of 4 per column.
    CHECK(g->weights()->size() == size_t{g->columns()} * 10 * 4);
  }
  CHECK(sliced_groups == 1);  // level 1's experts and gates read the input row in one group
  CHECK(ple::fb::GetModel(ConvertExample("int8").bytes.data())->min_reader_version() == ple::kMinReaderVersionPacked);

  {
    PinnedReader reader(3);
    const ple::test::OpenResult opened = ple::test::OpenBytes(sliced.bytes);
    CHECK(opened.status == PLE_ERROR_UNSUPPORTED_VERSION);
    CHECK_THAT(opened.message, Catch::Contains("needs reader version 4, this runtime is reader version 3"));
  }
  WriteOptions reader3;
  reader3.max_reader_version = 3;
  CHECK_THROWS_WITH(ConvertExample("int8,inputs=features", reader3),
                    Catch::Contains("--max-reader-version 3: per-feature input scales") &&
                        Catch::Contains("need reader version 4"));
  CHECK(ConvertExample("int8", reader3).bytes == ConvertExample("int8").bytes);
  CHECK_THROWS_WITH(PrecisionPlan::Parse("int8,inputs=some"), Catch::Contains("inputs=some (segments, features or auto)"));
  CHECK_THROWS_WITH(PrecisionPlan::Parse("f16,inputs=features"), Catch::Contains("applies to int8 first layers"));
  CHECK_THROWS_WITH(ConvertExample("int8,inputs=auto"), Catch::Contains("give --calibration-data"));
}

TEST_CASE("input scales: a scale per feature brings the example's click max error on held-out data below 2.6e-2 "
          "(one scale per segment: above 5e-2, the outlier request)",
          "[input_scales][accuracy]") {
  const std::vector<float> float32 = HeldoutOutputs(ConvertExample("f32").bytes);
  const double segments = MaxClickError(HeldoutOutputs(ConvertExample("int8").bytes), float32);
  const double features = MaxClickError(HeldoutOutputs(ConvertExample("int8,inputs=features").bytes), float32);
  INFO("click max error: one scale per segment " << segments << ", per feature " << features);
  CHECK(segments > 5e-2);
  CHECK(features < 2.6e-2);
}

TEST_CASE("input scales: the chooser isolates a feature whose range dwarfs its neighbours' and keeps the "
          "candidate columns in one slice when their ranges agree",
          "[input_scales]") {
  ConvertedModel model = ConvertExample("f32");
  AssignPrecisions(PrecisionPlan::Parse("int8"), &model.ir);
  const uint32_t width = model.ir.row_width();
  REQUIRE(width == 35);
  std::mt19937 random(11);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> rows(200 * width);
  for (float& v : rows) v = unit(random);
  const InputSliceChoice alike = ChooseInputSlices(model.ir, rows.data(), 200);
  REQUIRE_FALSE(alike.widths.empty());
  CHECK(alike.widths.back() == 14);  // per candidate, no slice pays for its pass

  for (size_t r = 0; r < 200; ++r) rows[r * width + 20] *= 40.0f;  // user_activity, column 20
  const InputSliceChoice outlier = ChooseInputSlices(model.ir, rows.data(), 200);
  INFO("relative error " << outlier.relative_error);
  REQUIRE(outlier.widths.size() >= 3);
  CHECK(outlier.widths.back() == 14);  // the candidate segment untouched
  CHECK(outlier.described.back() == "video_id video_category video_quality");
  CHECK(outlier.widths[outlier.widths.size() - 2] == 1);
  CHECK(outlier.described[outlier.described.size() - 2] == "user_activity");
  CHECK(outlier.relative_error < 0.1);

  AssignPrecisions(PrecisionPlan::Parse("f16"), &model.ir);  // no int8 first layer: nothing to choose
  CHECK(ChooseInputSlices(model.ir, rows.data(), 200).widths.empty());
}

TEST_CASE("input scales: inputs=auto on the example's calibration data is reproducible and keeps the request "
          "columns whole",
          "[input_scales]") {
  const ConvertedModel float32 = ConvertExample("f32");
  PrecisionPlan plan = PrecisionPlan::Parse("int8,inputs=auto");
  size_t rows = 0;
  const InputSliceChoice choice = ple::tools::CalibrateInputSlices(float32, plan, Example("calibration.jsonl"), &rows);
  CHECK(rows == 6000);
  REQUIRE_FALSE(choice.widths.empty());
  uint32_t total = 0;
  bool request_whole = false;
  for (uint32_t w : choice.widths) {
    total += w;
    request_whole = request_whole || total == 21;
  }
  CHECK(total == 35);
  CHECK(request_whole);
  CHECK(choice.relative_error < 1.0);
  size_t again_rows = 0;
  CHECK(ple::tools::CalibrateInputSlices(float32, plan, Example("calibration.jsonl"), &again_rows).widths ==
        choice.widths);
  plan.input_slices = choice.widths;
  const ConvertedModel a = Convert(Source::kNative, Example("config.json"), Example("weights.safetensors"), {}, plan);
  const ConvertedModel b = Convert(Source::kNative, Example("config.json"), Example("weights.safetensors"), {}, plan);
  CHECK(a.bytes == b.bytes);
  CHECK(ple::fb::GetModel(a.bytes.data())->min_reader_version() == ple::kMinReaderVersionSlices);
}

TEST_CASE("input scales: the loader refuses slices that do not tile the inputs or lack their sums", "[input_scales][loader]") {
  const std::vector<uint8_t> good = ConvertExample("int8,inputs=features").bytes;
  REQUIRE(ple::test::OpenBytes(good).status == PLE_OK);
  struct Case {
    uint32_t slice;
    uint32_t width;
    const char* message;
  };
  for (const Case& c : {Case{0, 0, "is empty"}, Case{3, 2, "crosses the request columns' end"},
                        Case{6, 3, "passes the 35 inputs"}, Case{6, 1, "input slices of 34 values, the group reads 35"}}) {
    std::vector<uint8_t> bytes = good;
    auto* groups = ple::fb::GetMutableModel(bytes.data())->mutable_packed_groups();
    for (uint32_t i = 0; i < groups->size(); ++i) {
      ple::fb::PackedGroup* g = groups->GetMutableObject(i);
      if (g->slice_widths() != nullptr) g->mutable_slice_widths()->Mutate(c.slice, c.width);
    }
    const ple::test::OpenResult opened = ple::test::OpenBytes(bytes);
    INFO("slice " << c.slice << " width " << c.width);
    CHECK(opened.status == PLE_ERROR_INVALID_MODEL);
    CHECK_THAT(opened.message, Catch::Contains(c.message));
  }
  std::vector<uint8_t> bytes = good;
  auto* groups = ple::fb::GetMutableModel(bytes.data())->mutable_packed_groups();
  for (uint32_t i = 0; i < groups->size(); ++i) {
    ple::fb::PackedGroup* g = groups->GetMutableObject(i);
    if (g->slice_widths() != nullptr) g->mutable_slice_sums()->Mutate(3 * g->columns() + 5, 509);
  }
  const ple::test::OpenResult opened = ple::test::OpenBytes(bytes);
  CHECK(opened.status == PLE_ERROR_INVALID_MODEL);
  CHECK_THAT(opened.message, Catch::Contains("input slice 3 sums: channel sum 509 of column 5 is outside [-512, 508]"));
}
