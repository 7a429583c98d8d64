// The converter: every validation error names what is wrong; BatchNorm folding; atomic writes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>

#include "convert_error.h"
#include "converter.h"
#include "load/model_reader.h"
#include "ple/ple.hpp"
#include "quantization_report.h"
#include "model_config.h"
#include "model_writer.h"
#include "ple_model_generated.h"
#include "ple_schema_version.h"
#include "safetensors.h"
#include "test_util.h"

using namespace ple::convert;
using ple::test::BundlePath;
using nlohmann::json;

namespace {

// A bundle's weights as an editable map.
std::map<std::string, SafeTensorToWrite> EditableWeights(const std::string& bundle) {
  const auto file = SafeTensorsFile::Read(BundlePath(bundle) + "/weights.safetensors");
  std::map<std::string, SafeTensorToWrite> tensors;
  for (const auto& [name, tensor] : file.tensors()) {
    tensors[name] = SafeTensorToWrite{tensor.dtype, tensor.shape,
                                      std::vector<uint8_t>(tensor.data, tensor.data + tensor.size_bytes)};
  }
  return tensors;
}

json BundleConfig(const std::string& bundle) {
  std::ifstream in(BundlePath(bundle) + "/config.json");
  return json::parse(in);
}

// Converts `config` + `weights` written to a temporary directory; returns the error message
// ("" when the conversion succeeds).
std::string ConversionError(const json& config, const std::map<std::string, SafeTensorToWrite>& weights) {
  const std::string dir = ple::test::MakeTempDir();
  std::ofstream(dir + "/config.json") << config.dump();
  ple::test::WriteFileBytes(dir + "/weights.safetensors", WriteSafeTensors(weights));
  try {
    ConvertNative(dir + "/config.json", dir + "/weights.safetensors");
  } catch (const ple::convert::ConvertError& e) {
    return e.what();
  }
  return "";
}

std::string ConfigError(const json& config) {
  try {
    ParseModelConfig(config.dump());
  } catch (const ple::convert::ConvertError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("converter: the bundles convert without error", "[converter]") {
  for (const auto& name : ple::test::BundleNames()) {
    INFO("bundle " << name);
    CHECK(ConversionError(BundleConfig(name), EditableWeights(name)).empty());
  }
}

TEST_CASE("converter: narrow int8 keeps weights in [-64, 64] with scale max|w| / 64, and 'narrow' needs int8 layers",
          "[converter]") {
  const std::vector<float> column = {0.5f, -1.28f, 0.003f, 1.0f, -0.64f};
  const ChannelQuantization wide = QuantizeChannel(column.data(), column.size());
  const ChannelQuantization narrow = QuantizeChannel(column.data(), column.size(), ple::kNarrowInt8Limit);
  CHECK(wide.scale == static_cast<float>(1.28 / 127));
  CHECK(narrow.scale == static_cast<float>(1.28 / 64));
  CHECK(narrow.values == std::vector<int8_t>{25, -64, 0, 50, -32});
  CHECK(wide.values[1] == -127);

  const PrecisionPlan plan = PrecisionPlan::Parse("int8,narrow");
  CHECK(plan.narrow_int8);
  CHECK(plan.ToString() == "embeddings=int8,experts=int8,gates=int8,towers=int8,heads=f16,narrow");
  CHECK(PrecisionPlan::Parse(plan.ToString()).ToString() == plan.ToString());
  CHECK_FALSE(PrecisionPlan::Parse("int8").narrow_int8);
  CHECK_THROWS_WITH(PrecisionPlan::Parse("f32,narrow"), Catch::Contains("no layer class is int8"));
  CHECK_THROWS_WITH(PrecisionPlan::Parse("f16,embeddings=int8,narrow"), Catch::Contains("no layer class is int8"));

  // Every int8 weight of a converted bundle lies in [-64, 64], and one per channel reaches it.
  const auto bytes = ple::test::ConvertBundle("six_tasks", {}, plan).bytes;
  const auto* root = ple::fb::GetModel(bytes.data());
  size_t int8_groups = 0;
  for (const auto* g : *root->packed_groups()) {
    if (g->dtype() != ple::fb::DType::I8) continue;
    ++int8_groups;
    CHECK(g->narrow_weights());
    int most = 0;
    for (uint8_t byte : *g->weights()) most = std::max(most, std::abs(static_cast<int>(static_cast<int8_t>(byte))));
    CHECK(most == ple::kNarrowInt8Limit);
  }
  CHECK(int8_groups > 0);
}

TEST_CASE("converter: a missing tensor is named with its expected shape", "[converter]") {
  auto weights = EditableWeights("mmoe");
  weights.erase("levels.0.shared_experts.1.layers.0.linear.weight");
  CHECK_THAT(ConversionError(BundleConfig("mmoe"), weights),
             Catch::Contains("missing tensor 'levels.0.shared_experts.1.layers.0.linear.weight'") &&
                 Catch::Contains("[16, 16]"));
}

TEST_CASE("converter: an extra tensor is named", "[converter]") {
  auto weights = EditableWeights("mmoe");
  weights["levels.0.shared_experts.3.layers.0.linear.weight"] = MakeF32Tensor({16, 16}, std::vector<float>(256, 0.1f));
  CHECK_THAT(ConversionError(BundleConfig("mmoe"), weights),
             Catch::Contains("1 tensor(s) the config does not use") &&
                 Catch::Contains("'levels.0.shared_experts.3.layers.0.linear.weight' [16, 16]"));
}

TEST_CASE("converter: a misshaped tensor is named with expected and found shapes", "[converter]") {
  auto weights = EditableWeights("mmoe");
  weights["towers.1.head.weight"] = MakeF32Tensor({8, 1}, std::vector<float>(8, 0.1f));
  CHECK_THAT(ConversionError(BundleConfig("mmoe"), weights),
             Catch::Contains("'towers.1.head.weight' has shape [8, 1], expected [1, 8]"));
  // The config disagrees with the weights: 17 expert units.
  json config = BundleConfig("mmoe");
  config["expert"]["units"] = {17};
  CHECK_THAT(ConversionError(config, EditableWeights("mmoe")),
             Catch::Contains("'levels.0.shared_experts.0.layers.0.linear.weight' has shape [16, 16], expected [17, 16]"));
}

TEST_CASE("converter: NaN and Inf weights are rejected", "[converter]") {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    auto weights = EditableWeights("mmoe");
    auto& bias = weights["levels.0.task_gates.1.logits.linear.bias"];
    std::memcpy(bias.bytes.data() + 4, &bad, 4);
    CHECK_THAT(ConversionError(BundleConfig("mmoe"), weights),
               Catch::Contains("'levels.0.task_gates.1.logits.linear.bias': element 1 is not finite"));
  }
}

TEST_CASE("converter: a BatchNorm variance below -eps is rejected", "[converter]") {
  auto weights = EditableWeights("cgc_bn");
  auto& var = weights["levels.0.shared_experts.0.layers.0.bn.running_var"];
  const float negative = -1.0f;
  std::memcpy(var.bytes.data(), &negative, 4);
  CHECK_THAT(ConversionError(BundleConfig("cgc_bn"), weights), Catch::Contains("running_var") && Catch::Contains("negative"));
}

TEST_CASE("converter: BatchNorm is folded into the preceding Linear in float64", "[converter]") {
  const auto file = SafeTensorsFile::Read(BundlePath("cgc_bn") + "/weights.safetensors");
  auto get = [&](const std::string& name) { return file.Find(name)->ToFloat(name); };
  const std::string p = "levels.0.shared_experts.1.layers.0.";
  const auto w = get(p + "linear.weight"), b = get(p + "linear.bias"), gamma = get(p + "bn.weight"),
             beta = get(p + "bn.bias"), mean = get(p + "bn.running_mean"), var = get(p + "bn.running_var");
  const IrModel ir = ple::test::ConvertBundle("cgc_bn").ir;
  // The config's inputs are user (8, request), item (8, candidate), context (4, request); the
  // converter moves request-scope inputs first: user, context, item. New column -> old column:
  std::vector<uint32_t> source;
  for (uint32_t c = 0; c < 8; ++c) source.push_back(c);
  for (uint32_t c = 16; c < 20; ++c) source.push_back(c);
  for (uint32_t c = 8; c < 16; ++c) source.push_back(c);
  REQUIRE(ir.features[1].name == "context");
  // Level 0 experts: ctr's specific, cvr's specific, then shared 0 and shared 1.
  const IrDense& folded = ir.levels[0].experts[3].mlp.layers[0];
  REQUIRE(folded.out == 16);
  REQUIRE(folded.in == 20);
  for (uint32_t o = 0; o < folded.out; ++o) {
    const double s = gamma[o] / std::sqrt(static_cast<double>(var[o]) + 1e-5);
    CHECK(folded.bias[o] == static_cast<float>(s * (static_cast<double>(b[o]) - mean[o]) + beta[o]));
    for (uint32_t k = 0; k < folded.in; ++k) {
      CHECK(folded.weight[o * 20 + k] == static_cast<float>(s * w[o * 20 + source[k]]));
    }
  }
}

TEST_CASE("converter: DeepCTR's scalar output bias is folded into the head bias", "[converter]") {
  const auto file = SafeTensorsFile::Read(BundlePath("deepctr_style") + "/weights.safetensors");
  const IrModel ir = ple::test::ConvertBundle("deepctr_style").ir;
  const IrDense& head = ir.towers[1].mlp.layers.back();
  REQUIRE(head.out == 1);
  REQUIRE(head.bias.size() == 1);
  CHECK(head.bias[0] == file.Find("towers.1.output_bias")->ToFloat("towers.1.output_bias")[0]);
}

TEST_CASE("converter: unsupported or inconsistent configs are rejected with the key", "[converter][config]") {
  json base = BundleConfig("mmoe");
  json c = base;
  c["expert"]["activation"] = "gelu";
  CHECK_THAT(ConfigError(c), Catch::Contains("expert.activation") && Catch::Contains("unsupported activation 'gelu'"));
  c = base;
  c["expert"]["unit"] = {16};
  CHECK_THAT(ConfigError(c), Catch::Contains("unknown key 'unit'"));
  c = base;
  c["format_version"] = 2;
  CHECK_THAT(ConfigError(c), Catch::Contains("format_version"));
  c = base;
  c["inputs"][0]["scope"] = "user";
  CHECK_THAT(ConfigError(c), Catch::Contains("inputs[0].scope"));
  c = base;
  c["tasks"][1]["name"] = "click";
  CHECK_THAT(ConfigError(c), Catch::Contains("'click' is used twice"));
  c = base;
  c["tasks"][0]["type"] = "multiclass";
  CHECK_THAT(ConfigError(c), Catch::Contains("tasks[0].type"));
  c = base;
  c["levels"][0]["shared_experts"] = 0;
  CHECK_THAT(ConfigError(c), Catch::Contains("task 'click' has no experts"));
  c = base;
  c["levels"][0]["specific_experts"] = {1, 2, 3};
  CHECK_THAT(ConfigError(c), Catch::Contains("one count per task expected (2), found 3"));
  c = base;
  c["levels"][0]["expert"] = {{"units", json::array()}};
  CHECK_THAT(ConfigError(c), Catch::Contains("at least one layer"));
  c = base;
  c["expert"]["activation"] = {{"type", "relu"}, {"negative_slope", 0.1}};
  CHECK_THAT(ConfigError(c), Catch::Contains("negative_slope applies to leaky_relu only"));
  c = base;
  c["last_level_shared_gate"] = "use";
  CHECK_THAT(ConfigError(c), Catch::Contains("last_level_shared_gate"));
  c = base;
  c["batch_norm_eps"] = 0;
  CHECK_THAT(ConfigError(c), Catch::Contains("batch_norm_eps"));
  CHECK_THAT(ConfigError(json::array()), Catch::Contains("an object expected"));
  c = base;
  c["inputs"][0]["name"] = "labels";  // a key of ple-run's input lines
  CHECK_THAT(ConfigError(c), Catch::Contains("'labels' is reserved"));
  c = base;
  c["inputs"][0]["name"] = "user.lengths";
  CHECK_THAT(ConfigError(c), Catch::Contains("is reserved"));
  c = base;
  c["framework"] = "torch-rechub";
  CHECK_THAT(ConfigError(c), Catch::Contains("convert it with --from torch-rechub"));
  // A gate of type "none" weighs exactly one expert: not the case in an MMoE of 3.
  c = base;
  c["gate"]["type"] = "none";
  CHECK_THAT(ConversionError(c, EditableWeights("mmoe")), Catch::Contains("gate type \"none\" needs exactly one expert"));
}

TEST_CASE("converter: per-level and per-task overrides merge into the defaults", "[converter][config]") {
  const ModelConfig config = ParseModelConfig(BundleConfig("ple3_noshared_last").dump());
  REQUIRE(config.levels.size() == 3);
  const ModelConfig six = ParseModelConfig(BundleConfig("six_tasks").dump());
  CHECK(six.levels[0].expert.batch_norm_eps == 1e-5);
  CHECK(six.levels[1].expert.batch_norm_eps == 1e-3);
  CHECK(six.levels[0].specific_experts == std::vector<uint32_t>{0, 1, 2, 0, 1, 1});
  CHECK_FALSE(six.levels[0].expert.bias);
}

TEST_CASE("converter: files are written atomically", "[converter]") {
  const std::string dir = ple::test::MakeTempDir();
  const std::string path = dir + "/model.ple";
  WriteFileAtomically(path, {1, 2, 3});
  CHECK(ple::test::ReadFileBytes(path) == std::vector<uint8_t>{1, 2, 3});
  WriteFileAtomically(path, {4, 5});
  CHECK(ple::test::ReadFileBytes(path) == std::vector<uint8_t>{4, 5});
  // The target is a directory: the rename fails, the temporary file is removed.
  const std::string target_dir = dir + "/is-a-directory";
  REQUIRE(::mkdir(target_dir.c_str(), 0755) == 0);
  CHECK_THROWS_AS(WriteFileAtomically(target_dir, {1}), ple::convert::ConvertError);
  CHECK_FALSE(ple::test::FileExists(target_dir + ".tmp." + std::to_string(::getpid())));
  CHECK_THROWS_WITH(WriteFileAtomically(dir + "/no/such/dir/model.ple", {1}), Catch::Contains("cannot create"));
}

TEST_CASE("converter: TensorFlow-layout [in, out] kernels give the same model with --weights-layout in_out",
          "[converter]") {
  auto weights = EditableWeights("cgc_bn");
  for (auto& [name, tensor] : weights) {
    const bool kernel = name.size() > 14 && (name.compare(name.size() - 14, 14, ".linear.weight") == 0 ||
                                             name.compare(name.size() - 12, 12, ".head.weight") == 0);
    if (!kernel) continue;
    const uint64_t out = tensor.shape[0], in = tensor.shape[1];
    std::vector<uint8_t> transposed(tensor.bytes.size());
    for (uint64_t o = 0; o < out; ++o) {
      for (uint64_t i = 0; i < in; ++i) std::memcpy(&transposed[(i * out + o) * 4], &tensor.bytes[(o * in + i) * 4], 4);
    }
    tensor.bytes = transposed;
    tensor.shape = {in, out};
  }
  const std::string dir = ple::test::MakeTempDir();
  ple::test::WriteFileBytes(dir + "/weights.safetensors", WriteSafeTensors(weights));
  ImportOptions options;
  options.naming.transpose_linear = true;
  const auto converted = ConvertNative(BundlePath("cgc_bn") + "/config.json", dir + "/weights.safetensors", options);
  CHECK(converted.bytes == ple::test::ConvertBundle("cgc_bn").bytes);
  // Without the flag, the transposed kernels do not fit.
  CHECK_THROWS_WITH(ConvertNative(BundlePath("cgc_bn") + "/config.json", dir + "/weights.safetensors"),
                    Catch::Contains("expected [16, 20]"));
}

TEST_CASE("converter: framework imports reject what the framework would not compute", "[converter][import]") {
  auto convert = [](const std::string& bundle, const json& config, Source source) -> std::string {
    const std::string dir = ple::test::MakeTempDir();
    std::ofstream(dir + "/config.json") << config.dump();
    try {
      Convert(source, dir + "/config.json", BundlePath(bundle) + "/weights.safetensors");
    } catch (const ple::convert::ConvertError& e) {
      return e.what();
    }
    return "";
  };
  const json rechub = BundleConfig("rechub_ple");
  CHECK(convert("rechub_ple", rechub, Source::kTorchRechub).empty());
  CHECK_THAT(convert("rechub_ple", rechub, Source::kDeepCtrTorch), Catch::Contains("\"deepctr-torch\" expected"));
  json c = rechub;
  c["expert_params"]["activation"] = "softmax";
  CHECK_THAT(convert("rechub_ple", c, Source::kTorchRechub), Catch::Contains("unsupported activation 'softmax'"));
  c = rechub;
  for (auto& f : c["features"]) {
    if (f["type"] == "SequenceFeature") f["pooling"] = "concat";
  }
  CHECK_THAT(convert("rechub_ple", c, Source::kTorchRechub), Catch::Contains("\"concat\" keeps the sequence"));
  c = rechub;
  c["n_expert_shared"] = 3;
  CHECK_THAT(convert("rechub_ple", c, Source::kTorchRechub), Catch::Contains("missing tensor 'cgc_layers.0.experts_shared.2"));
  c = rechub;
  c["expert_params"].erase("dims");  // an expert without layers (was a crash: an empty list got through)
  CHECK_THAT(convert("rechub_ple", c, Source::kTorchRechub),
             Catch::Contains("torch-rechub config: expert_params: key 'dims' is required"));
  c = rechub;
  c["n_level"] = "2";  // a bad integer says what it found
  CHECK_THAT(convert("rechub_ple", c, Source::kTorchRechub),
             Catch::Contains("n_level: an integer in [1, 64] expected, found \"2\""));

  const json deepctr = BundleConfig("deepctr_ple_bn");
  CHECK(convert("deepctr_ple_bn", deepctr, Source::kDeepCtrTorch).empty());
  c = deepctr;
  c["shared_expert_num"] = 3;
  CHECK_THAT(convert("deepctr_ple_bn", c, Source::kDeepCtrTorch), Catch::Contains("cannot run there"));
  c = deepctr;
  c["dnn_activation"] = "dice";
  CHECK_THAT(convert("deepctr_ple_bn", c, Source::kDeepCtrTorch), Catch::Contains("3-d inputs only"));
  c = deepctr;
  c["dnn_use_bn"] = false;  // the BatchNorm tensors are then unexpected
  CHECK_THAT(convert("deepctr_ple_bn", c, Source::kDeepCtrTorch), Catch::Contains("the config does not use") &&
                                                                      Catch::Contains(".bn.0."));
}

TEST_CASE("converter: DeepCTR-Torch's unused shared experts and last-level shared gate are dropped",
          "[converter][import]") {
  // deepctr_ple_bn: specific 2, shared 1 -> 2 shared experts built per level, 1 used.
  const auto converted = Convert(Source::kDeepCtrTorch, BundlePath("deepctr_ple_bn") + "/config.json",
                                 BundlePath("deepctr_ple_bn") + "/weights.safetensors");
  REQUIRE(converted.ir.levels.size() == 2);
  CHECK(converted.ir.levels[0].experts.size() == 3 * 2 + 1);
  CHECK(converted.ir.levels[0].gates.size() == 3 + 1);  // task gates + shared gate
  CHECK(converted.ir.levels[1].gates.size() == 3);      // the last level's shared gate is not used
}

namespace {

// Pins the loader's reader version for a scope (what a runtime of that version would do).
struct PinnedReader {
  explicit PinnedReader(uint32_t version) { ple::rt::SetReaderVersionForTesting(version); }
  ~PinnedReader() { ple::rt::SetReaderVersionForTesting(0); }
};

// The example's held-out outputs from a model file, on the reference path.
std::vector<float> HeldoutOutputs(const std::vector<uint8_t>& bytes) {
  ple::test::AlignedBuffer buffer(bytes);
  ple::Model model = ple::Model::OpenBuffer(buffer.data(), buffer.size());
  const auto batches = ple::tools::ReadCandidates(ple::test::SourcePath("examples/feed/heldout.jsonl"), model);
  return ple::tools::ScoreBatches(model, batches, nullptr, PLE_KERNELS_REFERENCE);
}

}  // namespace

TEST_CASE("converter: --max-reader-version 2 writes unpacked float32 layers a reader of 2 loads, and refuses what "
          "needs 3",
          "[converter][versions]") {
  const std::string example = ple::test::SourcePath("examples/feed");
  const ConvertedModel packed = ConvertNative(example + "/config.json", example + "/weights.safetensors");
  WriteOptions old_readers;
  old_readers.max_reader_version = 2;
  const ConvertedModel unpacked =
      Convert(Source::kNative, example + "/config.json", example + "/weights.safetensors", {}, {}, "", old_readers);
  CHECK(ple::fb::GetModel(packed.bytes.data())->min_reader_version() == 3);
  const ple::fb::Model* root = ple::fb::GetModel(unpacked.bytes.data());
  CHECK(root->min_reader_version() == 2);
  CHECK(root->packed_groups() == nullptr);
  CHECK(root->levels()->Get(0)->experts()->Get(0)->mlp()->layers()->Get(0)->weight()->data()->size() > 0);

  std::vector<float> old_reader;
  {
    PinnedReader reader(2);
    old_reader = HeldoutOutputs(unpacked.bytes);
    CHECK_THROWS_WITH(HeldoutOutputs(packed.bytes),
                      Catch::Contains("the model needs reader version 3, this runtime is reader version 2"));
  }
  REQUIRE(old_reader.size() == 3000);
  CHECK(old_reader == HeldoutOutputs(packed.bytes));  // the same bits as the packed file, on the reference path

  const PrecisionPlan int8 = PrecisionPlan::Parse("int8");
  CHECK_THROWS_WITH(Convert(Source::kNative, example + "/config.json", example + "/weights.safetensors", {}, int8, "",
                            old_readers),
                    Catch::Contains("--max-reader-version 2: int8 dense layers (level 1 experts; --precision int8)") &&
                        Catch::Contains("need reader version 3"));
  const PrecisionPlan int8_tables_only = PrecisionPlan::Parse("f32,embeddings=int8");
  CHECK_THROWS_WITH(Convert(Source::kNative, example + "/config.json", example + "/weights.safetensors", {},
                            int8_tables_only, "", old_readers),
                    Catch::Contains("int8 embedding tables"));
  for (uint32_t v : {1u, ple::kReaderVersion + 1}) {
    WriteOptions bad;
    bad.max_reader_version = v;
    CHECK_THROWS_WITH(Convert(Source::kNative, example + "/config.json", example + "/weights.safetensors", {}, {}, "", bad),
                      Catch::Contains("this converter writes files for reader versions 2 to " +
                                      std::to_string(ple::kReaderVersion)));
  }
}
