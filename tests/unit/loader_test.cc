// The loader verifies before it reads: every malformed file gives an error status and a
// message, never a crash or an out-of-bounds read (run this under ASan to see the latter).
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <cmath>

#include "model_writer.h"
#include "ple/ple.h"
#include "ple_model_generated.h"
#include "ple_schema_version.h"
#include "test_util.h"

using namespace ple::convert;
using ple::test::AlignedBuffer;

namespace {

using LoadResult = ple::test::OpenResult;

LoadResult Load(const std::vector<uint8_t>& bytes) {
  LoadResult result = ple::test::OpenBytes(bytes);
  REQUIRE(result.handle_consistent);
  return result;
}

// The IR of a bundle, for building inconsistent files on purpose.
IrModel BundleIr(const std::string& name) { return ple::test::ConvertBundle(name).ir; }

std::string LoadError(const IrModel& ir) {
  const LoadResult result = Load(SerializeModel(ir, "test"));
  return result.status == PLE_OK ? "" : result.message;
}

}  // namespace

TEST_CASE("loader: every bundle's model loads from an aligned buffer in place and from a file", "[loader]") {
  for (const auto& name : ple::test::BundleNames()) {
    INFO("bundle " << name);
    const auto bytes = ple::test::ConvertBundle(name).bytes;
    AlignedBuffer buffer(bytes);
    ple_model* model = nullptr;
    REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
    CHECK(ple_model_is_copy(model) == 0);
    ple_model_close(&model);

    const std::string path = ple::test::MakeTempDir() + "/model.ple";
    ple::test::WriteFileBytes(path, bytes);
    REQUIRE(ple_model_open_file(path.c_str(), &model) == PLE_OK);
    CHECK(ple_model_is_copy(model) == 0);
    ple_model_close(&model);
  }
}

TEST_CASE("loader: an unaligned buffer is copied once, the caller may free it at once", "[loader]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  for (size_t misalignment : {1, 4, 8, 16, 32}) {
    ple_model* model = nullptr;
    {
      AlignedBuffer buffer(bytes, misalignment);
      REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
      CHECK(ple_model_is_copy(model) == 1);
    }  // buffer freed: the model must not read it any more
    ple_session* session = nullptr;
    REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);
    std::vector<float> in(ple_model_row_width(model), 0.5f), out(ple_model_num_tasks(model));
    CHECK(ple_session_run(session, in.data(), in.size(), 1, out.data(), out.size()) == PLE_OK);
    CHECK(std::isfinite(out[0]));
    ple_session_close(&session);
    ple_model_close(&model);
  }
}

TEST_CASE("loader: a model inside a larger file opens from its descriptor, offset and length", "[loader]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  const std::string path = ple::test::MakeTempDir() + "/container.bin";
  for (uint64_t offset : {uint64_t{0}, uint64_t{64}, uint64_t{4096}, uint64_t{4100}, uint64_t{100}}) {
    INFO("offset " << offset);
    std::vector<uint8_t> container(offset, 0xAB);
    container.insert(container.end(), bytes.begin(), bytes.end());
    container.resize(container.size() + 17, 0xCD);  // trailing bytes of other assets
    ple::test::WriteFileBytes(path, container);
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    ple_model* model = nullptr;
    REQUIRE(ple_model_open_fd(fd, offset, bytes.size(), &model) == PLE_OK);
    ::close(fd);  // the mapping outlives the descriptor
    CHECK(ple_model_is_copy(model) == (offset % 64 == 0 ? 0 : 1));
    ple_session* session = nullptr;
    REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);
    std::vector<float> in(ple_model_row_width(model), 0.5f), out(2);
    CHECK(ple_session_run(session, in.data(), in.size(), 1, out.data(), 2) == PLE_OK);
    ple_session_close(&session);
    ple_model_close(&model);
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ple_model* model = nullptr;
  CHECK(ple_model_open_fd(fd, 100, bytes.size() + 1000, &model) == PLE_ERROR_IO);
  CHECK_THAT(ple_last_error(), Catch::Contains("outside the"));
  CHECK(ple_model_open_fd(fd, 0, 0, &model) == PLE_ERROR_INVALID_MODEL);
  CHECK(ple_model_open_fd(-1, 0, 10, &model) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_open_fd(fd, 5, 100, &model) == PLE_ERROR_INVALID_MODEL);  // not a model there
  ::close(fd);
}

TEST_CASE("loader: open_buffer_copy always copies, whatever the alignment", "[loader]") {
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  ple_model* model = nullptr;
  {
    AlignedBuffer aligned(bytes);
    REQUIRE(ple_model_open_buffer_copy(aligned.data(), aligned.size(), &model) == PLE_OK);
    CHECK(ple_model_is_copy(model) == 1);
    std::memset(aligned.data(), 0, aligned.size());  // the model does not read the caller's bytes
  }
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);
  ple_session_close(&session);
  ple_model_close(&model);
}

TEST_CASE("loader: files that are empty, missing, not ours or truncated are rejected", "[loader]") {
  const std::string dir = ple::test::MakeTempDir();
  ple_model* model = nullptr;
  ple::test::WriteFileBytes(dir + "/empty.ple", {});
  CHECK(ple_model_open_file((dir + "/empty.ple").c_str(), &model) == PLE_ERROR_INVALID_MODEL);
  CHECK_THAT(ple_last_error(), Catch::Contains("empty"));
  CHECK(ple_model_open_file((dir + "/missing.ple").c_str(), &model) == PLE_ERROR_IO);
  CHECK_THAT(ple_last_error(), Catch::Contains("missing.ple") && Catch::Contains("No such file"));
  CHECK(ple_model_open_file(dir.c_str(), &model) == PLE_ERROR_IO);
  CHECK_THAT(ple_last_error(), Catch::Contains("not a regular file"));
  CHECK(model == nullptr);

  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  auto not_ours = bytes;
  not_ours[4] = 'X';  // the file identifier sits at bytes 4..7
  CHECK(Load(not_ours).status == PLE_ERROR_INVALID_MODEL);
  CHECK_THAT(Load(not_ours).message, Catch::Contains("not a PLE model file"));
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'};
  CHECK(Load(text).status == PLE_ERROR_INVALID_MODEL);

  // Every prefix near both ends, and every 61st in between. A cut inside the integrity
  // trailer leaves the whole FlatBuffer: only the checksum check sees it.
  const size_t flatbuffer_size = bytes.size() - 112;
  ple_model_open_options verify;
  ple_model_open_options_init(&verify);
  verify.verify_checksum = 1;
  size_t checked = 0;
  for (size_t size = 1; size < bytes.size(); size += (size < 512 || size > bytes.size() - 512) ? 1 : 61) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    INFO("truncated to " << size << " of " << bytes.size() << " bytes");
    REQUIRE(Load(prefix).status == (size < flatbuffer_size ? PLE_ERROR_INVALID_MODEL : PLE_OK));
    AlignedBuffer buffer(prefix);
    REQUIRE(ple_model_open_buffer_with_options(buffer.data(), buffer.size(), &verify, &model) == PLE_ERROR_INTEGRITY);
    ++checked;
  }
  CHECK(checked > 1000);
}

TEST_CASE("loader: a file needing a newer reader is refused, older minimums are read", "[loader]") {
  auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  auto* root = ple::fb::GetMutableModel(bytes.data());
  REQUIRE(root->min_reader_version() == ple::kMinReaderVersionPacked);  // every file this converter writes
  REQUIRE(root->mutate_min_reader_version(ple::kReaderVersion + 1));
  LoadResult result = Load(bytes);
  CHECK(result.status == PLE_ERROR_UNSUPPORTED_VERSION);
  CHECK_THAT(result.message, Catch::Contains("reader version " + std::to_string(ple::kReaderVersion + 1)) &&
                                 Catch::Contains("upgrade"));
  // A newer schema revision that old readers can still compute is accepted.
  REQUIRE(root->mutate_min_reader_version(ple::kReaderVersion));
  REQUIRE(root->mutate_schema_version(ple::kSchemaVersion + 5));
  CHECK(Load(bytes).status == PLE_OK);
  REQUIRE(root->mutate_min_reader_version(0));
  CHECK_THAT(Load(bytes).message, Catch::Contains("min_reader_version is 0"));
}

// Narrow int8 weights (schema 5) are the one value check that reads weight bytes: a weight
// outside [-64, 64] in a flagged group would make AVX2's vpmaddubsw saturate.
TEST_CASE("loader: a group flagged narrow is read as narrow, and refused with a weight beyond 64", "[loader]") {
  auto bytes = ple::test::ConvertBundle("mmoe", {}, PrecisionPlan::Parse("int8,narrow")).bytes;
  auto* root = ple::fb::GetMutableModel(bytes.data());
  REQUIRE(root->packed_groups() != nullptr);
  size_t flagged = 0;
  for (uint32_t i = 0; i < root->packed_groups()->size(); ++i) {
    const auto* g = root->packed_groups()->Get(i);
    CHECK(g->narrow_weights() == (g->dtype() == ple::fb::DType::I8));
    flagged += g->narrow_weights() ? 1 : 0;
  }
  REQUIRE(flagged > 0);
  CHECK(Load(bytes).status == PLE_OK);
  uint32_t group = 0;
  while (!root->packed_groups()->Get(group)->narrow_weights()) ++group;
  auto* weights = root->mutable_packed_groups()->GetMutableObject(group)->mutable_weights();
  const size_t at = weights->size() / 2;
  for (int value : {64, -64}) {
    weights->Mutate(static_cast<flatbuffers::uoffset_t>(at), static_cast<uint8_t>(static_cast<int8_t>(value)));
    CHECK(Load(bytes).status == PLE_OK);
  }
  for (int value : {65, -65, 127, -128}) {
    INFO("weight " << value);
    weights->Mutate(static_cast<flatbuffers::uoffset_t>(at), static_cast<uint8_t>(static_cast<int8_t>(value)));
    const LoadResult result = Load(bytes);
    CHECK(result.status == PLE_ERROR_INVALID_MODEL);
    CHECK_THAT(result.message, Catch::Contains("packed group " + std::to_string(group + 1) + ": flagged narrow") &&
                                   Catch::Contains("weight byte " + std::to_string(at) + " is " + std::to_string(value)));
  }
}

TEST_CASE("loader: verifier-valid files with inconsistent structure are rejected by name", "[loader]") {
  SECTION("shapes that do not chain") {
    IrModel ir = BundleIr("ple2_unequal");
    IrDense& layer = ir.levels[0].experts[0].mlp.layers[1];  // [24 -> 16], reads 24
    layer.in = 23;
    layer.weight.resize(size_t{layer.out} * 23);
    CHECK_THAT(LoadError(ir), Catch::Contains("levels.0.experts.0.layers.1.weight") &&
                                  Catch::Contains("input width 24") && Catch::Contains("found [16, 23]"));
  }
  SECTION("weight data of the wrong size") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].experts[1].mlp.layers[0].bias.resize(15);
    CHECK_THAT(LoadError(ir), Catch::Contains("levels.0.experts.1.layers.0.bias: 64 data bytes expected, found 60"));
  }
  SECTION("a gate index out of range") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].gates[1].experts[2] = 7;
    CHECK_THAT(LoadError(ir), Catch::Contains("levels.0.gates.1: expert index 7 out of range [0, 3)"));
  }
  SECTION("a gate with more logits than experts") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].gates[0].experts.pop_back();
    CHECK_THAT(LoadError(ir), Catch::Contains("gives 3 logits for 2 experts"));
  }
  SECTION("a stream the previous level does not write") {
    IrModel ir = BundleIr("ple3_noshared_last");
    // The last level has no shared gate, so stream T (= 3 tasks) is undefined for the towers.
    ir.towers[0].input_stream = 3;
    CHECK_THAT(LoadError(ir), Catch::Contains("towers.0: input stream 3 is not written by the last level"));
  }
  SECTION("a stream written twice") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].gates[1].output_stream = 0;
    CHECK_THAT(LoadError(ir), Catch::Contains("output stream 0 is written by two gates"));
  }
  SECTION("a head with more than one output") {
    IrModel ir = BundleIr("mmoe");
    IrDense& head = ir.towers[0].mlp.layers.back();
    head.out = 2;
    head.weight.resize(2 * head.in);
    head.bias.resize(2);
    CHECK_THAT(LoadError(ir), Catch::Contains("towers.0: the head must have 1 output, found 2"));
  }
  SECTION("experts of one gate with different widths") {
    IrModel ir = BundleIr("mmoe");
    IrDense& layer = ir.levels[0].experts[2].mlp.layers[0];
    layer.out = 15;
    layer.weight.resize(15 * layer.in);
    layer.bias.resize(15);
    CHECK_THAT(LoadError(ir), Catch::Contains("differ in output width (16 and 15)"));
  }
  SECTION("a gate without an MLP over several experts") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].gates[0].mlp.layers.clear();
    CHECK_THAT(LoadError(ir), Catch::Contains("a gate without an MLP must have exactly one expert"));
  }
  SECTION("an activation this reader does not know") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].experts[0].mlp.layers[0].activation = static_cast<ple::fb::Activation>(99);
    CHECK_THAT(LoadError(ir), Catch::Contains("activation 99 is not known to this reader"));
  }
  SECTION("a tower missing") {
    IrModel ir = BundleIr("mmoe");
    ir.towers.pop_back();
    CHECK_THAT(LoadError(ir), Catch::Contains("2 towers expected (one per task), found 1"));
  }
  SECTION("inputs with a duplicate name or zero width") {
    IrModel ir = BundleIr("mmoe");
    ir.features[1].name = ir.features[0].name;
    CHECK_THAT(LoadError(ir), Catch::Contains("appears twice"));
    ir = BundleIr("mmoe");
    ple::convert::FeatureConfig empty;
    empty.name = "empty";
    ir.features.push_back(empty);
    CHECK_THAT(LoadError(ir), Catch::Contains("feature 'empty': width 0"));
  }
  SECTION("a prelu without its slope") {
    IrModel ir = BundleIr("mmoe");
    ir.levels[0].experts[0].mlp.layers[0].activation = ple::fb::Activation::PRelu;
    CHECK_THAT(LoadError(ir), Catch::Contains("prelu without prelu_slope"));
  }
}
