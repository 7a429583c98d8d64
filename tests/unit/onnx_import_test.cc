// The ONNX reader and the float64 evaluator of the converter's ONNX import
// (docs/architecture.md, "Importing ONNX"). The evaluator is checked against ONNX Runtime's
// committed outputs (tests/onnx_corpus, made by tests/reference/make_onnx_corpus.py); it is
// never the oracle of another test. Refusals are built as ModelProtos here and must name what
// is wrong.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "convert_error.h"
#include "model_writer.h"
#include "onnx_import/onnx_eval.h"
#include "onnx_import/onnx_feed.h"
#include "onnx_import/onnx_graph.h"
#include "onnx_import/onnx_importer.h"
#include "onnx_import/onnx_recognize.h"
#include "conformance.h"
#include "ple/ple.hpp"
#include "quantize.h"
#include "test_util.h"

using ple::convert::ConvertError;
using namespace ple::convert::onnx_import;

namespace {

Tensor FromJson(const nlohmann::json& j) {
  Tensor t;
  for (const auto& d : j["shape"]) t.shape.push_back(d.get<int64_t>());
  for (const auto& v : j["values"]) t.values.push_back(v.get<double>());
  t.integer = j.value("dtype", "float32") == "int64";
  return t;
}

std::map<std::string, Tensor> TensorsOf(const nlohmann::json& j) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, value] : j.items()) tensors[name] = FromJson(value);
  return tensors;
}

// A one-node graph "x -> op -> y" at `opset`, x a float [2, 3].
onnx::ModelProto OneNode(const std::string& op, int64_t opset = 13, const std::string& domain = "") {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  auto* graph = model.mutable_graph();
  auto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name("the_node");
  node->set_domain(domain);
  node->add_input("x");
  node->add_output("y");
  auto* input = graph->add_input();
  input->set_name("x");
  input->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  graph->add_output()->set_name("y");
  return model;
}

struct CorpusModel {
  std::string name, directory;
  Graph graph;
  nlohmann::json expected;
  bool has_sidecar = false;

  std::string model_path() const { return directory + "/model.onnx"; }
  std::string sidecar_path() const { return has_sidecar ? directory + "/sidecar.json" : ""; }
  size_t rows() const { return static_cast<size_t>(expected["inputs"].begin().value()["shape"][0].get<int64_t>()); }
};

std::vector<CorpusModel> Corpus() {
  std::vector<CorpusModel> models;
  for (const auto& entry : std::filesystem::directory_iterator(ple::test::SourcePath("tests/onnx_corpus"))) {
    if (!entry.is_directory() || entry.path().filename() == "refused") continue;
    std::ifstream in(entry.path() / "expected.json");
    REQUIRE(in);
    models.push_back({entry.path().filename().string(), entry.path().string(),
                      ReadOnnxGraph((entry.path() / "model.onnx").string()), nlohmann::json::parse(in),
                      std::filesystem::exists(entry.path() / "sidecar.json")});
  }
  std::sort(models.begin(), models.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return models;
}

// The converted model's outputs [rows, tasks] for the corpus inputs (as ONNX Runtime was
// given them), on the reference path.
std::vector<float> RunConverted(RecognizedModel recognized, const nlohmann::json& expected,
                                const std::string& precision = "f32") {
  ple::convert::AssignPrecisions(ple::convert::PrecisionPlan::Parse(precision), &recognized.ir);
  const std::vector<uint8_t> bytes = ple::convert::SerializeModel(recognized.ir, "onnx import test");
  ple::test::AlignedBuffer buffer(bytes);
  ple::Model model = ple::Model::OpenBuffer(buffer.data(), buffer.size());
  return RunOnGraphInputs(model, recognized, TensorsOf(expected["inputs"]), PLE_KERNELS_REFERENCE);
}

// ONNX Runtime's outputs [rows, tasks], in the recognized model's task order.
std::vector<double> Expected(const RecognizedModel& recognized, const CorpusModel& m) {
  return TaskValues(recognized, TensorsOf(m.expected["outputs"]), m.rows());
}

void WriteFileText(const std::string& path, const std::string& text) {
  ple::test::WriteFileBytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

Graph Parse(const onnx::ModelProto& model, const std::string& directory = "") {
  const std::string bytes = model.SerializeAsString();
  return ParseOnnxGraph(bytes.data(), bytes.size(), directory);
}

}  // namespace

TEST_CASE("onnx import: the float64 evaluator gives ONNX Runtime's outputs on every corpus model", "[onnx]") {
  size_t models = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ple::test::SourcePath("tests/onnx_corpus"))) {
    if (!entry.is_directory() || entry.path().filename() == "refused") continue;
    INFO("corpus model " << entry.path().filename());
    std::ifstream in(entry.path() / "expected.json");
    REQUIRE(in);
    const nlohmann::json expected = nlohmann::json::parse(in);
    const Graph graph = ReadOnnxGraph((entry.path() / "model.onnx").string());
    CHECK(graph.opset == expected["opset"].get<int64_t>());
    const auto outputs = Evaluate(graph, TensorsOf(expected["inputs"]));
    REQUIRE(outputs.size() == expected["outputs"].size());
    for (const auto& [name, value] : expected["outputs"].items()) {
      INFO("output " << name);
      const Tensor want = FromJson(value);
      REQUIRE(outputs.count(name) == 1);
      const Tensor& got = outputs.at(name);
      REQUIRE(got.shape == want.shape);
      for (size_t i = 0; i < want.values.size(); ++i) {
        CHECK(std::fabs(got.values[i] - want.values[i]) <= 1e-6 + 1e-5 * std::fabs(want.values[i]));
      }
    }
    ++models;
  }
  CHECK(models >= 6);
}

TEST_CASE("onnx import: files outside what is read are refused, naming what is wrong", "[onnx]") {
  SECTION("not an ONNX model") {
    const std::string junk = "PLE1 this is not a protobuf";
    CHECK_THROWS_WITH(ParseOnnxGraph(junk.data(), junk.size(), ""), Catch::Contains("not an ONNX model"));
  }
  SECTION("INT64_MAX, torch's end of x[:, 1:], is read as a sentinel and slices to the end") {
    onnx::ModelProto model = OneNode("Slice");
    auto* node = model.mutable_graph()->mutable_node(0);
    for (const char* name : {"starts", "ends", "axes"}) {
      node->add_input(name);
      auto* t = model.mutable_graph()->add_initializer();
      t->set_name(name);
      t->set_data_type(onnx::TensorProto::INT64);
      t->add_dims(1);
      t->add_int64_data(std::string(name) == "ends" ? INT64_MAX : 1);
    }
    const Graph graph = Parse(model);
    CHECK(graph.initializers.at("ends").values[0] == 4611686018427387904.0);  // 2^62
    Tensor x;
    x.shape = {2, 3};
    x.values = {1, 2, 3, 4, 5, 6};
    const Tensor y = Evaluate(graph, {{"x", x}}).at("y");
    CHECK(y.shape == std::vector<int64_t>{2, 2});
    CHECK(y.values == std::vector<double>{2, 3, 5, 6});
  }
  SECTION("a tensor beyond the evaluator's cap is not computed") {
    onnx::ModelProto model = OneNode("Expand");
    model.mutable_graph()->mutable_node(0)->add_input("shape");
    auto* shape = model.mutable_graph()->add_initializer();
    shape->set_name("shape");
    shape->set_data_type(onnx::TensorProto::INT64);
    shape->add_dims(4);
    for (int64_t d : {65536, 65536, 2, 3}) shape->add_int64_data(d);
    Tensor x;
    x.shape = {2, 3};
    x.values.assign(6, 1.0);
    CHECK_THROWS_WITH(Evaluate(Parse(model), {{"x", x}}),
                      Catch::Contains("(Expand): a tensor of shape") && Catch::Contains("the evaluator's cap is 67108864"));
  }
  SECTION("an opset outside 11..17") {
    CHECK_THROWS_WITH(Parse(OneNode("Relu", 10)), Catch::Contains("opset 10") && Catch::Contains("11 to 17"));
    CHECK_THROWS_WITH(Parse(OneNode("Relu", 18)), Catch::Contains("opset 18"));
    CHECK_NOTHROW(Parse(OneNode("Relu", 11)));
  }
  SECTION("a quantized (QDQ) graph") {
    CHECK_THROWS_WITH(Parse(OneNode("DequantizeLinear")),
                      Catch::Contains("node 'the_node' (DequantizeLinear)") && Catch::Contains("export the float model"));
  }
  SECTION("a node of another domain") {
    CHECK_THROWS_WITH(Parse(OneNode("FusedMatMul", 13, "com.microsoft")),
                      Catch::Contains("node 'the_node' (FusedMatMul)") && Catch::Contains("com.microsoft"));
  }
  SECTION("external data outside the model's directory, or missing") {
    onnx::ModelProto model = OneNode("Relu");
    auto* init = model.mutable_graph()->add_initializer();
    init->set_name("w");
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(4);
    init->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* location = init->add_external_data();
    location->set_key("location");
    location->set_value("../secrets.bin");
    CHECK_THROWS_WITH(Parse(model), Catch::Contains("initializer 'w'") && Catch::Contains("no '..'"));
    location->set_value("/etc/passwd");
    CHECK_THROWS_WITH(Parse(model), Catch::Contains("no absolute path"));
    location->set_value("weights.bin");
    CHECK_THROWS_WITH(Parse(model, ple::test::MakeTempDir()), Catch::Contains("cannot open its external data"));
  }
  SECTION("external data beside the model is read; a range past its file's end is refused") {
    const std::string dir = ple::test::MakeTempDir();
    const std::vector<float> values = {1.5f, -2.0f, 0.25f, 8.0f};
    std::vector<uint8_t> bytes(16, 0xee);  // 16 bytes of padding first: the tensor is at offset 16
    bytes.insert(bytes.end(), reinterpret_cast<const uint8_t*>(values.data()),
                 reinterpret_cast<const uint8_t*>(values.data()) + sizeof(float) * values.size());
    ple::test::WriteFileBytes(dir + "/weights.bin", bytes);
    onnx::ModelProto model = OneNode("Relu");
    auto* init = model.mutable_graph()->add_initializer();
    init->set_name("table");
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(2);
    init->add_dims(2);
    init->set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"location", "weights.bin"}, {"offset", "16"}, {"length", "16"}}) {
      auto* entry = init->add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
    const Graph graph = Parse(model, dir);
    const Tensor& table = graph.initializers.at("table");
    CHECK(table.shape == std::vector<int64_t>{2, 2});
    CHECK(table.values == std::vector<double>{1.5, -2.0, 0.25, 8.0});
    init->mutable_external_data(1)->set_value("24");  // 16 bytes from offset 24: past the end
    CHECK_THROWS_WITH(Parse(model, dir), Catch::Contains("initializer 'table'") && Catch::Contains("beyond the end"));
    init->mutable_external_data(1)->set_value("1e3");  // not a byte count: refused, not an uncaught exception
    CHECK_THROWS_WITH(Parse(model, dir), Catch::Contains("initializer 'table'") && Catch::Contains("'1e3' is not a byte count"));
  }
  SECTION("a tensor beyond the caps, or with the wrong amount of data") {
    onnx::ModelProto model = OneNode("Relu");
    auto* init = model.mutable_graph()->add_initializer();
    init->set_name("huge");
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(1 << 20);
    init->add_dims(1 << 20);
    CHECK_THROWS_WITH(Parse(model), Catch::Contains("initializer 'huge'") && Catch::Contains("elements"));
    init->clear_dims();
    init->add_dims(3);
    init->add_float_data(1.0f);
    CHECK_THROWS_WITH(Parse(model), Catch::Contains("1 values stored for shape of 3 elements"));
  }
  SECTION("an op the evaluator does not run is named with its node") {
    const Graph graph = Parse(OneNode("Conv"));
    Tensor x;
    x.shape = {2, 3};
    x.values.assign(6, 1.0);
    CHECK_THROWS_WITH(Evaluate(graph, {{"x", x}}), Catch::Contains("node 'the_node' (Conv): op Conv is not evaluated"));
    CHECK_THROWS_WITH(Evaluate(graph, {}), Catch::Contains("graph input 'x' was not given"));
  }
}

// Opset traps the evaluator follows: before 13 Softmax normalizes over every axis from `axis`
// on (the input seen as 2-d), from 13 over `axis` alone.
TEST_CASE("onnx import: Softmax follows its opset's axis rule", "[onnx]") {
  Tensor x;
  x.shape = {1, 2, 2};
  x.values = {0.0, 1.0, 2.0, 3.0};
  for (int64_t opset : {11, 13}) {
    onnx::ModelProto model = OneNode("Softmax", opset);
    auto* axis = model.mutable_graph()->mutable_node(0)->add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(1);
    const Tensor y = Evaluate(Parse(model), {{"x", x}}).at("y");
    double total = 0.0;
    for (double v : y.values) total += v;
    INFO("opset " << opset);
    if (opset < 13) {
      CHECK(std::fabs(total - 1.0) < 1e-12);  // one distribution over the 4 trailing values
    } else {
      CHECK(std::fabs(y.values[0] + y.values[2] - 1.0) < 1e-12);  // over axis 1 only: pairs (0, 2), (1, 3)
      CHECK(std::fabs(y.values[1] + y.values[3] - 1.0) < 1e-12);
    }
  }
}

TEST_CASE("onnx import: every corpus model is recognized and its conversion gives ONNX Runtime's outputs", "[onnx]") {
  const auto corpus = Corpus();
  REQUIRE(corpus.size() >= 6);
  for (const CorpusModel& m : corpus) {
    INFO("corpus model " << m.name);
    const RecognizedModel recognized = ImportOnnx(m.model_path(), m.sidecar_path());
    const std::vector<float> got = RunConverted(recognized, m.expected);
    const std::vector<double> want = Expected(recognized, m);
    const size_t tasks = recognized.ir.tasks.size();
    REQUIRE(got.size() == want.size());
    REQUIRE(want.size() == m.rows() * tasks);
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("task " << recognized.ir.tasks[i % tasks].name << ", row " << i / tasks);
      CHECK(std::fabs(got[i] - want[i]) <= 1e-6 + 1e-5 * std::fabs(want[i]));
    }
    if (!m.has_sidecar) {  // tasks named by the graph's outputs, in their order
      for (size_t t = 0; t < tasks; ++t) CHECK(recognized.ir.tasks[t].name == m.graph.outputs[t].name);
    }
  }
}

// Interpretation bugs injected through the recognizer's test hook: each is refused, by the
// self-check (the raw graph evaluated node by node against the converted model) or, for a
// transposition that does not fit the shapes, by the recognizer's own shape check.
TEST_CASE("onnx import: each injected interpretation bug is refused", "[onnx]") {
  const std::string corpus = ple::test::SourcePath("tests/onnx_corpus");
  OnnxImportOptions options;
  CHECK_NOTHROW(ImportOnnx(corpus + "/plain_ple_stack/model.onnx", "", options));
  CHECK_NOTHROW(ImportOnnx(corpus + "/plain_mmoe_batchnorm/model.onnx", "", options));

  options.recognize.fault = InterpretationFault::kSwapExperts;
  CHECK_THROWS_WITH(ImportOnnx(corpus + "/plain_ple_stack/model.onnx", "", options),
                    Catch::StartsWith("self-check: the converted model differs") && Catch::Contains("random candidates"));
  options.recognize.fault = InterpretationFault::kDropBatchNormEpsilon;
  CHECK_THROWS_WITH(ImportOnnx(corpus + "/plain_mmoe_batchnorm/model.onnx", "", options),
                    Catch::StartsWith("self-check:"));
  {  // a running mean shorter than the channels is refused, not read past its end
    Graph bn = ReadOnnxGraph(corpus + "/plain_mmoe_batchnorm/model.onnx");
    for (const Node& node : bn.nodes) {
      if (node.op != "BatchNormalization") continue;
      Tensor& mean = bn.initializers.at(node.inputs.at(3));
      mean.values.resize(1);
      mean.shape = {1};
      break;
    }
    CHECK_THROWS_WITH(RecognizeOnnx(bn), Catch::Contains("(BatchNormalization): its scale, bias, mean and variance must hold one value per channel"));
  }
  options.recognize.fault = InterpretationFault::kIgnoreTransB;
  CHECK_THROWS_WITH(ImportOnnx(corpus + "/plain_mmoe_stack/model.onnx", "", options),
                    Catch::Contains("(Gemm): a Linear of"));

  // A gate whose Softmax runs over the batch (axis 0) is outside the family: refused by name;
  // an importer that ignored the axis would convert it, and the self-check refuses that.
  Graph graph = ReadOnnxGraph(corpus + "/plain_mmoe_stack/model.onnx");
  Node* softmax = nullptr;
  for (Node& node : graph.nodes) {
    if (node.op == "Softmax" && softmax == nullptr) softmax = &node;
  }
  REQUIRE(softmax != nullptr);
  softmax->attributes["axis"].kind = Attribute::Kind::kInt;
  softmax->attributes["axis"].i = 0;
  CHECK_THROWS_WITH(RecognizeOnnx(graph), Catch::Contains("(Softmax): a gate's Softmax must run over the experts") &&
                                              Catch::Contains("found axis 0"));
  options.recognize.fault = InterpretationFault::kWrongSoftmaxAxis;
  const RecognizedModel misread = RecognizeOnnx(graph, options.recognize);
  CHECK_THROWS_WITH(SelfCheck(graph, misread, RandomGraphInputs(graph, misread, {}, 32, 4, 1), options, "random candidates"),
                    Catch::StartsWith("self-check:"));
}

TEST_CASE("onnx import: the sidecar names the tasks, and refuses what it does not know", "[onnx]") {
  const std::string model = ple::test::SourcePath("tests/onnx_corpus/plain_mmoe_bmm/model.onnx");
  const std::string dir = ple::test::MakeTempDir();
  WriteFileText(dir + "/ok.json", R"({"name": "feed", "tasks": ["ctr", "cvr"]})");
  const ple::convert::IrModel ir = ImportOnnx(model, dir + "/ok.json").ir;
  CHECK(ir.name == "feed");
  REQUIRE(ir.tasks.size() == 2);
  CHECK(ir.tasks[0].name == "ctr");
  CHECK(ir.tasks[1].name == "cvr");
  WriteFileText(dir + "/three.json", R"({"tasks": ["a", "b", "c"]})");
  CHECK_THROWS_WITH(ImportOnnx(model, dir + "/three.json"), Catch::Contains("names 3 tasks, the graph has 2"));
  WriteFileText(dir + "/typo.json", R"({"taks": ["a", "b"]})");
  CHECK_THROWS_WITH(ImportOnnx(model, dir + "/typo.json"), Catch::Contains("key 'taks' is not known"));
}

// Models outside the family (tests/onnx_corpus/refused, exported from PyTorch): each refused
// with its node's name, its op and what was expected there.
TEST_CASE("onnx import: models outside the family are refused, naming the node", "[onnx]") {
  size_t refused = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ple::test::SourcePath("tests/onnx_corpus/refused"))) {
    INFO("refused model " << entry.path().filename());
    std::ifstream in(entry.path() / "expected.json");
    REQUIRE(in);
    const std::string says = nlohmann::json::parse(in)["refused"].get<std::string>();
    CHECK_THROWS_WITH(ImportOnnx((entry.path() / "model.onnx").string(), ""),
                      Catch::StartsWith("node '") && Catch::Contains(says));
    ++refused;
  }
  CHECK(refused >= 6);
  // an opset's trap: Einsum exists from opset 12
  Graph einsum = ReadOnnxGraph(ple::test::SourcePath("tests/onnx_corpus/plain_mmoe_einsum/model.onnx"));
  einsum.opset = 11;
  for (Node& node : einsum.nodes) {  // axes as opset 11 gives them: an attribute
    if ((node.op != "Unsqueeze" && node.op != "Squeeze" && node.op != "ReduceSum") || node.inputs.size() < 2) continue;
    for (const Node& constant : einsum.nodes) {
      if (constant.op == "Constant" && constant.outputs.at(0) == node.inputs[1]) {
        node.attributes["axes"].kind = Attribute::Kind::kInts;
        for (double v : constant.attributes.at("value").t.values) node.attributes["axes"].ints.push_back(static_cast<int64_t>(v));
      }
    }
    node.inputs.resize(1);
  }
  CHECK_THROWS_WITH(RecognizeOnnx(einsum), Catch::Contains("(Einsum): Einsum exists from opset 12"));
}

// Quantized conversions of the corpus stay within docs/quantization.md's bars against ONNX
// Runtime's float32 outputs (probabilities: absolute max and mean; regression: relative to
// max(|expected|, the column's mean |expected|)), on the reference kernels.
TEST_CASE("onnx import: quantized conversions of the corpus stay within the int8 and f16 bars", "[onnx]") {
  for (const CorpusModel& m : Corpus()) {
    const RecognizedModel recognized = ImportOnnx(m.model_path(), m.sidecar_path());
    const ple::convert::IrModel& ir = recognized.ir;
    const std::vector<double> expected = Expected(recognized, m);
    for (const char* precision : {"f16", "int8"}) {
      INFO("corpus model " << m.name << ", " << precision);
      const bool int8 = std::string(precision) == "int8";
      const std::vector<float> got = RunConverted(recognized, m.expected, precision);
      const size_t tasks = ir.tasks.size();
      for (size_t t = 0; t < tasks; ++t) {
        INFO("task " << ir.tasks[t].name);
        std::vector<double> values;
        for (size_t r = 0; r < m.rows(); ++r) values.push_back(expected[r * tasks + t]);
        const bool binary = ir.tasks[t].type == ple::fb::TaskType::Binary;
        ple::conformance::Tolerance tolerance = binary ? ple::conformance::QuantizedProbabilityTolerance(int8)
                                                       : ple::conformance::QuantizedValueTolerance(int8);
        double mean_magnitude = 0.0, mean_error = 0.0;
        for (double v : values) mean_magnitude += std::fabs(v) / static_cast<double>(values.size());
        tolerance.atol = std::max(tolerance.atol, tolerance.atol_of_mean * mean_magnitude);
        for (size_t r = 0; r < values.size(); ++r) {
          const double want = values[r], y = got[r * tasks + t];
          CHECK(tolerance.Accepts(y, want));
          mean_error += std::fabs(y - want) / static_cast<double>(values.size());
        }
        CHECK(mean_error <= tolerance.mean_atol);
      }
    }
  }
}

// The feature layer a recognizer could misread, each applied to an imported model: the
// self-check (the raw graph node by node against the converted model) refuses every one.
TEST_CASE("onnx import: a misread feature layer is refused by the self-check", "[onnx]") {
  const std::string corpus = ple::test::SourcePath("tests/onnx_corpus");
  OnnxImportOptions options;
  for (const std::string name : {"rechub_ple_onnx", "deepctr_ple_onnx"}) {
    INFO("corpus model " << name);
    const std::string dir = corpus + "/" + name;
    const nlohmann::json sidecar = nlohmann::json::parse(std::ifstream(dir + "/sidecar.json"));
    FeatureHints hints;
    if (sidecar.contains("features") && sidecar["features"].contains("hist") && sidecar["features"]["hist"].contains("max_length")) {
      hints.max_length["hist"] = sidecar["features"]["hist"]["max_length"].get<uint32_t>();
    }
    const Graph graph = ReadOnnxGraph(dir + "/model.onnx");
    const RecognizedModel good = ImportOnnx(dir + "/model.onnx", dir + "/sidecar.json");
    const auto inputs = RandomGraphInputs(graph, good, hints, 32, 4, 1);
    CHECK_NOTHROW(SelfCheck(graph, good, inputs, options, "random candidates"));
    auto feature = [](RecognizedModel& m, const std::string& f) -> ple::convert::FeatureConfig& {
      for (auto& config : m.ir.features) {
        if (config.name == f) return config;
      }
      FAIL("no feature " << f);
      return m.ir.features[0];
    };
    RecognizedModel m = good;
    feature(m, "hist").has_padding_id = false;  // the mask ignored: padding rows pooled and counted
    CHECK_THROWS_WITH(SelfCheck(graph, m, inputs, options, "random candidates"), Catch::StartsWith("self-check:"));
    m = good;
    feature(m, "hist").pooling = ple::fb::Pooling::Sum;  // a mean read as a sum
    CHECK_THROWS_WITH(SelfCheck(graph, m, inputs, options, "random candidates"), Catch::StartsWith("self-check:"));
    m = good;
    std::swap(feature(m, "user_id").table, feature(m, "video_id").table);  // tables of the same dim swapped
    CHECK_THROWS_WITH(SelfCheck(graph, m, inputs, options, "random candidates"), Catch::StartsWith("self-check:"));
    m = good;
    for (auto& b : m.bindings) {
      if (b.feature == "video_id") std::swap(b.input, m.bindings[0].input), std::swap(b.begin, m.bindings[0].begin),
                                   std::swap(b.end, m.bindings[0].end);  // two id features' places swapped
    }
    CHECK_THROWS_WITH(SelfCheck(graph, m, inputs, options, "random candidates"), Catch::StartsWith("self-check:"));
  }
}

TEST_CASE("onnx import: the sidecar gives scopes, lengths, column names, OOV and score, and refuses mistakes", "[onnx]") {
  const std::string corpus = ple::test::SourcePath("tests/onnx_corpus");
  const std::string rechub = corpus + "/rechub_ple_onnx/model.onnx", deepctr = corpus + "/deepctr_ple_onnx/model.onnx";
  const std::string dir = ple::test::MakeTempDir();
  // torch-rechub leaves the sequence length symbolic: without max_length the import says so
  CHECK_THROWS_WITH(ImportOnnx(rechub, ""), Catch::Contains("input 'hist' has a length the graph leaves symbolic") &&
                                                Catch::Contains("max_length in the sidecar"));
  WriteFileText(dir + "/rechub.json", R"({"name": "feed", "tasks": ["ctr", "time"],
      "features": {"hist": {"max_length": 12, "scope": "request"}, "user_id": {"scope": "request", "oov": "hash"}},
      "extras": [{"name": "video_len"}],
      "score": {"exponents": {"ctr": 1.0, "time": 0.5}, "transform": {"type": "log1p", "input": "video_len"}}})");
  const ple::convert::IrModel ir = ImportOnnx(rechub, dir + "/rechub.json").ir;
  CHECK(ir.name == "feed");
  REQUIRE(ir.features.size() == 7);
  CHECK(ir.features[0].name == "user_id");  // request scope first
  CHECK(ir.features[0].oov_policy == ple::fb::OovPolicy::Hash);
  CHECK(ir.features[1].name == "hist");
  CHECK(ir.features[1].max_length == 12);
  CHECK(ir.features[1].pooling == ple::fb::Pooling::Mean);
  CHECK(ir.features[1].has_padding_id);
  CHECK(ir.features[1].padding_id == 0);
  CHECK(ir.features[1].mean_eps == Approx(1e-16f));
  CHECK(ir.features[2].scope == ple::fb::Scope::Candidate);
  CHECK(ir.score.present);
  CHECK(ir.extras == std::vector<std::string>{"video_len"});

  // DeepCTR-Torch's one float input: features named by its column ranges, else by the range
  const ple::convert::IrModel unnamed = ImportOnnx(deepctr, "").ir;
  CHECK(unnamed.features[0].name == "x[0:1]");
  WriteFileText(dir + "/overlap.json", R"({"columns": {"x": {"user_id": [0, 2]}}})");
  CHECK_THROWS_WITH(ImportOnnx(deepctr, dir + "/overlap.json"), Catch::Contains("give 'user_id' as [0, 2) of input 'x'; the graph reads [0, 1) as one feature"));

  const std::vector<std::pair<std::string, std::string>> refused = {  // rechub's sidecars first
      {R"({"features": {"hist": {"max_length": 12}, "hist ": {"scope": "request"}}})",
       "features.hist : the graph has no such feature (it has: user_id, hist, video_id,"},
      {R"({"features": {"hist": {"max_length": 12, "scope": "user"}}})", "features.hist.scope: \"request\" or \"candidate\" expected"},
      {R"({"features": {"hist": {"max_length": 0}}})", "max_length: a count from 1 to 100000"},
      {R"({"features": {"hist": {"max_len": 8}}})", "key 'max_len' is not known"},
      {R"({"features": {"x[9:10]": {"oov": "hash"}}})", "a dense feature has no ids"},
      {R"({"features": {"x[10:11]": {"max_length": 3}}})", "is not a sequence"},
      {R"({"columns": {"x": {"user_id": [2, 1]}}})", "[begin, end] with begin < end expected"},
      {R"({"score": {"exponents": {"clicks": 1.0}}})", "clicks"},
  };
  for (const auto& [text, says] : refused) {
    INFO(text);
    WriteFileText(dir + "/bad.json", text);
    CHECK_THROWS_WITH(ImportOnnx(text.find("hist") != std::string::npos ? rechub : deepctr, dir + "/bad.json"),
                      Catch::Contains(says));
  }
}

TEST_CASE("onnx import: check data runs the self-check on the user's rows and compares the outputs given", "[onnx]") {
  const std::string dir = ple::test::SourcePath("tests/onnx_corpus/plain_ple_features");
  const std::string tmp = ple::test::MakeTempDir();
  std::ifstream in(dir + "/expected.json");
  nlohmann::json data = nlohmann::json::parse(in);
  OnnxImportOptions options;
  options.check_data_path = dir + "/expected.json";
  const RecognizedModel model = ImportOnnx(dir + "/model.onnx", dir + "/sidecar.json", options);
  REQUIRE(model.notes.size() == 1);
  CHECK_THAT(model.notes[0], Catch::Contains("12 rows of") && Catch::Contains("from the outputs given there"));

  nlohmann::json wrong = data;
  auto& value = wrong["outputs"]["watch_time"]["values"][7];
  value = value.get<double>() + 1e-3;  // ONNX Runtime's row 7 said something else
  WriteFileText(tmp + "/wrong.json", wrong.dump());
  options.check_data_path = tmp + "/wrong.json";
  CHECK_THROWS_WITH(ImportOnnx(dir + "/model.onnx", dir + "/sidecar.json", options),
                    Catch::StartsWith("check data: the converted model differs from the outputs given in") &&
                        Catch::Contains("task 'watch_time'") && Catch::Contains("row 7"));
  nlohmann::json missing = data;
  missing["inputs"].erase("dense");
  WriteFileText(tmp + "/missing.json", missing.dump());
  options.check_data_path = tmp + "/missing.json";
  CHECK_THROWS_WITH(ImportOnnx(dir + "/model.onnx", dir + "/sidecar.json", options),
                    Catch::Contains("graph input 'dense' is missing"));
  nlohmann::json out_of_vocabulary = data;
  out_of_vocabulary["inputs"]["item_id"]["values"][0] = 80;  // the table has 80 rows
  WriteFileText(tmp + "/oov.json", out_of_vocabulary.dump());
  options.check_data_path = tmp + "/oov.json";
  CHECK_THROWS_WITH(ImportOnnx(dir + "/model.onnx", dir + "/sidecar.json", options),
                    Catch::StartsWith("self-check: the ONNX graph cannot be evaluated on the inputs of") &&
                        Catch::Contains("(Gather): index 80 outside [0, 80)"));
}
