// Encoders in the model file (docs/encoders.md): the hash against the shared test vector (the
// Python twin checks the same file), the example model served from raw values giving exactly
// the outputs it gives from ids, OOV and malformed UTF-8 as documented, every lookup's edges,
// and the converter's and loader's checks.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "convert_error.h"
#include "converter.h"
#include "ple/ple.hpp"
#include "ple_model_generated.h"
#include "test_util.h"

namespace {

using nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The example's config with encoders: user_id an int64 vocabulary of its 300 ids (identity),
// hour 23 boundaries 1..23 (hour h -> id h), video_category a text vocabulary "cat00".."cat19"
// (line k -> id k). Written to `dir` with the vocabulary file; `extra` is merged into the
// video_category encoder.
std::string WriteEncodedExample(const std::string& dir, const json& extra = json::object()) {
  json config = ReadJson(ple::test::SourcePath("examples/feed/config.json"));
  json users = json::array();
  for (int i = 0; i < 300; ++i) users.push_back(i);
  json hours = json::array();
  for (int h = 1; h < 24; ++h) hours.push_back(h);
  for (json& f : config["features"]) {
    if (f["name"] == "user_id") f["encoder"] = {{"vocabulary", users}};
    if (f["name"] == "hour") f["encoder"] = {{"boundaries", hours}};
    if (f["name"] == "video_category") {
      f["encoder"] = {{"vocabulary", "categories.txt"}};
      f["encoder"].update(extra);
    }
  }
  std::ofstream(dir + "/config.json") << config.dump();
  std::ofstream categories(dir + "/categories.txt");
  for (int k = 0; k < 20; ++k) categories << "cat" << (k < 10 ? "0" : "") << k << "\n";
  return dir + "/config.json";
}

std::vector<uint8_t> Convert(const std::string& config) {
  return ple::convert::ConvertNative(config, ple::test::SourcePath("examples/feed/weights.safetensors")).bytes;
}

size_t Feature(const ple::Model& model, const char* name) {
  const int64_t index = ple_model_find_feature(model.get(), name);
  REQUIRE(index >= 0);
  return static_cast<size_t>(index);
}

// The example request (examples/feed/request.jsonl): outputs from ids, or from raw values
// encoded by the model (user and hour and categories), as an app would.
std::vector<float> RunExample(const ple::Model& model, bool raw) {
  std::ifstream in(ple::test::SourcePath("examples/feed/request.jsonl"));
  std::string line;
  std::getline(in, line);
  const json request = json::parse(line)["request"];
  std::vector<json> candidates;
  while (std::getline(in, line)) {
    if (!line.empty()) candidates.push_back(json::parse(line));
  }
  const size_t n = candidates.size();
  std::vector<int64_t> user = {request["user_id"].get<int64_t>()}, hour = {request["hour"].get<int64_t>()};
  if (raw) {
    const int64_t raw_user = user[0];
    const float raw_hour = static_cast<float>(hour[0]);
    REQUIRE(ple_model_encode_ints(model.get(), Feature(model, "user_id"), &raw_user, 1, user.data()) == PLE_OK);
    REQUIRE(ple_model_encode_floats(model.get(), Feature(model, "hour"), &raw_hour, 1, hour.data()) == PLE_OK);
  }
  const std::vector<int64_t> history = request["history"].get<std::vector<int64_t>>();
  const std::vector<uint32_t> history_length = {static_cast<uint32_t>(history.size())};
  const std::vector<float> activity = {request["user_activity"].get<float>()};
  std::vector<int64_t> video(n), category(n);
  std::vector<float> quality, length;
  std::vector<std::string> names(n);
  for (size_t i = 0; i < n; ++i) {
    video[i] = candidates[i]["video_id"].get<int64_t>();
    category[i] = candidates[i]["video_category"].get<int64_t>();
    names[i] = (category[i] < 10 ? "cat0" : "cat") + std::to_string(category[i]);
    for (float q : candidates[i]["video_quality"].get<std::vector<float>>()) quality.push_back(q);
    length.push_back(candidates[i]["video_len"].get<float>());
  }
  if (raw) {
    std::vector<const char*> pointers;
    for (const std::string& s : names) pointers.push_back(s.c_str());
    REQUIRE(ple_model_encode_strings(model.get(), Feature(model, "video_category"), pointers.data(), nullptr, n,
                                     category.data()) == PLE_OK);
  }
  ple::Request context(model);
  const std::vector<ple_feature_values> request_values = {
      {"user_id", nullptr, 0, user.data(), 1, nullptr},
      {"history", nullptr, 0, history.data(), history.size(), history_length.data()},
      {"hour", nullptr, 0, hour.data(), 1, nullptr},
      {"user_activity", activity.data(), 1, nullptr, 0, nullptr}};
  context.Set(request_values.data(), request_values.size());
  const std::vector<ple_feature_values> candidate_values = {
      {"video_id", nullptr, 0, video.data(), n, nullptr},
      {"video_category", nullptr, 0, category.data(), n, nullptr},
      {"video_quality", quality.data(), quality.size(), nullptr, 0, nullptr},
      {"video_len", length.data(), n, nullptr, 0, nullptr}};
  ple::Session session(model);
  const size_t tasks = ple_model_num_tasks(model.get());
  std::vector<float> out(n * tasks + n);
  ple::Check(ple_session_run_features(session.get(), context.get(), candidate_values.data(), candidate_values.size(), n,
                                      out.data(), n * tasks, out.data() + n * tasks, n));
  return out;
}

}  // namespace

TEST_CASE("encoders: ple_hash64 matches the test vector shared with tools/ple_hash.py", "[encoders]") {
  const json vectors = ReadJson(ple::test::SourcePath("tests/data/hash_vectors.json"));
  REQUIRE(vectors["strings"].size() >= 5);
  for (const json& v : vectors["strings"]) {
    const std::string s = v["value"].get<std::string>();
    const uint64_t h = ple_hash64(s.data(), s.size());
    CHECK(h == std::stoull(v["hash"].get<std::string>(), nullptr, 16));
    CHECK(h % 1000 == v["bucket_1000"].get<uint64_t>());
  }
  for (const json& v : vectors["ints"]) {
    const int64_t x = v["value"].get<int64_t>();
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(x) >> (8 * i));
    CHECK(ple_hash64(bytes, 8) == std::stoull(v["hash"].get<std::string>(), nullptr, 16));
  }
}

TEST_CASE("encoders: the example served from raw values gives exactly its outputs from ids", "[encoders]") {
  const std::string dir = ple::test::MakeTempDir();
  REQUIRE(!dir.empty());
  const std::vector<uint8_t> encoded = Convert(WriteEncodedExample(dir));
  const std::vector<uint8_t> plain = Convert(ple::test::SourcePath("examples/feed/config.json"));
  const ple::Model with_encoders = ple::Model::OpenBuffer(encoded.data(), encoded.size());
  const ple::Model without = ple::Model::OpenBuffer(plain.data(), plain.size());
  CHECK(ple_model_feature_encoder(with_encoders.get(), Feature(with_encoders, "video_category")) ==
        PLE_ENCODER_STRING_VOCABULARY);
  CHECK(ple_model_feature_encoder_size(with_encoders.get(), Feature(with_encoders, "video_category")) == 20);
  CHECK(ple_model_feature_encoder(with_encoders.get(), Feature(with_encoders, "hour")) == PLE_ENCODER_BOUNDARIES);
  CHECK(ple_model_feature_encoder(with_encoders.get(), Feature(with_encoders, "video_id")) == PLE_ENCODER_NONE);
  const std::vector<float> from_raw = RunExample(with_encoders, true);
  const std::vector<float> from_ids = RunExample(with_encoders, false);
  const std::vector<float> plain_ids = RunExample(without, false);
  CHECK(std::memcmp(from_raw.data(), from_ids.data(), from_raw.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(from_raw.data(), plain_ids.data(), from_raw.size() * sizeof(float)) == 0);
}

TEST_CASE("encoders: lookups, OOV and malformed UTF-8 as documented", "[encoders]") {
  const std::string dir = ple::test::MakeTempDir();
  const std::vector<uint8_t> bytes = Convert(WriteEncodedExample(dir));
  const ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  const size_t category = Feature(model, "video_category"), hour = Feature(model, "hour"),
               user = Feature(model, "user_id"), video = Feature(model, "video_id");
  int64_t id = -1;
  const char* known[] = {"cat00", "cat19", "cat07"};
  int64_t ids[3];
  REQUIRE(ple_model_encode_strings(model.get(), category, known, nullptr, 3, ids) == PLE_OK);
  CHECK(ids[0] == 0);
  CHECK(ids[1] == 19);
  CHECK(ids[2] == 7);
  // Lengths instead of NUL: "cat07" given as the first 5 bytes of a longer buffer.
  const char* prefixed = "cat07-and-more";
  const size_t five = 5;
  REQUIRE(ple_model_encode_strings(model.get(), category, &prefixed, &five, 1, &id) == PLE_OK);
  CHECK(id == 7);
  // Not in the vocabulary, no OOV id: an error naming the value.
  const char* unknown = "cat20";
  CHECK(ple_model_encode_strings(model.get(), category, &unknown, nullptr, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(ple_last_error()).find("('cat20') is not in its vocabulary of 20") != std::string::npos);
  // Malformed UTF-8 (a lone continuation byte, an overlong '/', a surrogate): refused before lookup.
  for (const char* bad : {"cat\x80", "\xc0\xaf", "\xed\xa0\x80"}) {
    CHECK(ple_model_encode_strings(model.get(), category, &bad, nullptr, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(ple_last_error()).find("not valid UTF-8") != std::string::npos);
  }
  // Types the encoder does not take, and a feature without one.
  const float one = 1.0f;
  CHECK(ple_model_encode_floats(model.get(), category, &one, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(ple_last_error()).find("string vocabulary: it does not take floats") != std::string::npos);
  const int64_t seven = 7;
  CHECK(ple_model_encode_ints(model.get(), video, &seven, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(ple_last_error()).find("has no encoder") != std::string::npos);
  CHECK(ple_model_encode_ints(model.get(), 99, &seven, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  // Int vocabulary: inside, outside.
  const int64_t users[] = {0, 299, 300, -1};
  CHECK(ple_model_encode_ints(model.get(), user, users, 2, ids) == PLE_OK);
  CHECK(ids[0] == 0);
  CHECK(ids[1] == 299);
  CHECK(ple_model_encode_ints(model.get(), user, users + 2, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_encode_ints(model.get(), user, users + 3, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);
  // Boundaries 1..23: below the first, on one (it counts), between, above the last; NaN refused.
  const float hours[] = {-5.0f, 0.0f, 1.0f, 11.0f, 11.5f, 23.0f, 1e9f, -INFINITY};
  const int64_t expected[] = {0, 0, 1, 11, 11, 23, 23, 0};
  int64_t got[8];
  REQUIRE(ple_model_encode_floats(model.get(), hour, hours, 8, got) == PLE_OK);
  for (int i = 0; i < 8; ++i) CHECK(got[i] == expected[i]);
  const float nan = NAN;
  CHECK(ple_model_encode_floats(model.get(), hour, &nan, 1, &id) == PLE_ERROR_INVALID_ARGUMENT);

  // The C++ wrapper: the same ids, errors as ple::Error.
  CHECK(model.EncodeStrings("video_category", {"cat00", "cat19"}) == std::vector<int64_t>{0, 19});
  CHECK(model.EncodeInts("user_id", {5, 299}) == std::vector<int64_t>{5, 299});
  CHECK(model.EncodeFloats("hour", {0.5f, 23.5f}) == std::vector<int64_t>{0, 23});
  CHECK_THROWS_AS(model.EncodeStrings("video_category", {"nope"}), ple::Error);
  CHECK_THROWS_WITH(model.EncodeInts("no_such_feature", {1}), Catch::Contains("no feature named 'no_such_feature'"));

  // With an OOV id, unknown values get it; with id_offset, ids shift.
  const std::string dir2 = ple::test::MakeTempDir();
  const std::vector<uint8_t> with_oov = Convert(WriteEncodedExample(dir2, {{"oov_id", 0}, {"id_offset", 0}}));
  const ple::Model oov_model = ple::Model::OpenBuffer(with_oov.data(), with_oov.size());
  REQUIRE(ple_model_encode_strings(oov_model.get(), category, &unknown, nullptr, 1, &id) == PLE_OK);
  CHECK(id == 0);
}

TEST_CASE("encoders: the converter checks them against the embedding table", "[encoders]") {
  const std::string dir = ple::test::MakeTempDir();
  using Catch::Contains;
  // category has 20 rows: offset 1 puts "cat19" at id 20.
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"id_offset", 1}})),
                    Contains("vocabulary id 20 is outside the embedding table's 20 rows"));
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"oov_id", 20}})), Contains("oov_id 20 is outside"));
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"vocabulary", json::array({"a", "b", "a"})}})),
                    Contains("key 'a' appears twice"));
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"vocabulary", json::array({"a", 1})}})),
                    Contains("keys must all be strings or all integers"));
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"vocabulary", "missing.txt"}})),
                    Contains("cannot open vocabulary file"));
  CHECK_THROWS_WITH(Convert(WriteEncodedExample(dir, {{"hash_buckets", 5}})), Contains("exactly one of"));
  // A JSON vocabulary file (a label encoder's classes) and an object of key -> id.
  std::ofstream(dir + "/classes.json") << R"(["sports", "news", "music"])";
  const std::vector<uint8_t> from_list = Convert(WriteEncodedExample(dir, {{"vocabulary", "classes.json"}}));
  const ple::Model list_model = ple::Model::OpenBuffer(from_list.data(), from_list.size());
  const char* music = "music";
  int64_t id = -1;
  REQUIRE(ple_model_encode_strings(list_model.get(), Feature(list_model, "video_category"), &music, nullptr, 1, &id) ==
          PLE_OK);
  CHECK(id == 2);  // its position in the list
  const std::vector<uint8_t> from_object =
      Convert(WriteEncodedExample(dir, {{"vocabulary", {{"x", 5}, {"y", 3}}}}));
  const ple::Model object_model = ple::Model::OpenBuffer(from_object.data(), from_object.size());
  const char* y = "y";
  REQUIRE(ple_model_encode_strings(object_model.get(), Feature(object_model, "video_category"), &y, nullptr, 1, &id) ==
          PLE_OK);
  CHECK(id == 3);
  // Hash: user_id into 300 buckets of int64, checked against ple_hash64 directly.
  json config = ReadJson(ple::test::SourcePath("examples/feed/config.json"));
  for (json& f : config["features"]) {
    if (f["name"] == "user_id") f["encoder"] = {{"hash_buckets", 300}, {"input", "int"}};
  }
  std::ofstream(dir + "/hash.json") << config.dump();
  const std::vector<uint8_t> hashed = Convert(dir + "/hash.json");
  const ple::Model hash_model = ple::Model::OpenBuffer(hashed.data(), hashed.size());
  const int64_t raw = 123456789;
  REQUIRE(ple_model_encode_ints(hash_model.get(), Feature(hash_model, "user_id"), &raw, 1, &id) == PLE_OK);
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(static_cast<uint64_t>(raw) >> (8 * i));
  CHECK(static_cast<uint64_t>(id) == ple_hash64(le, 8) % 300);
  for (json& f : config["features"]) {
    if (f["name"] == "user_id") f["encoder"] = {{"hash_buckets", 301}};
  }
  std::ofstream(dir + "/hash.json") << config.dump();
  CHECK_THROWS_WITH(Convert(dir + "/hash.json"), Contains("301 outside [1, 300]"));
}

TEST_CASE("encoders: the loader refuses an encoder whose ids leave the table or whose keys are unsorted",
          "[encoders]") {
  const std::string dir = ple::test::MakeTempDir();
  const std::vector<uint8_t> good = Convert(WriteEncodedExample(dir));
  auto load = [](std::vector<uint8_t> bytes) {
    ple::test::AlignedBuffer buffer(bytes);
    ple_model* model = nullptr;
    const ple_status status = ple_model_open_buffer(buffer.data(), buffer.size(), &model);
    ple_model_close(&model);
    return status;
  };
  REQUIRE(load(good) == PLE_OK);
  auto mutate = [&](auto&& change) {
    std::vector<uint8_t> bytes = good;
    auto* root = ple::fb::GetMutableModel(bytes.data());
    for (uint32_t i = 0; i < root->features()->size(); ++i) {
      auto* f = root->mutable_features()->GetMutableObject(i);
      if (f->name()->str() == "video_category") change(f->mutable_encoder());
    }
    return bytes;
  };
  CHECK(load(mutate([](ple::fb::Encoder* e) { e->mutable_ids()->Mutate(3, 20); })) == PLE_ERROR_INVALID_MODEL);
  CHECK(std::string(ple_last_error()).find("vocabulary id 20 outside the table's 20 rows") != std::string::npos);
  CHECK(load(mutate([](ple::fb::Encoder* e) { e->mutable_string_bytes()->Mutate(0, 'z'); })) ==
        PLE_ERROR_INVALID_MODEL);
  CHECK(std::string(ple_last_error()).find("not sorted") != std::string::npos);
  CHECK(load(mutate([](ple::fb::Encoder* e) { e->mutable_string_bytes()->Mutate(0, 0xff); })) ==
        PLE_ERROR_INVALID_MODEL);
  CHECK(std::string(ple_last_error()).find("not valid UTF-8") != std::string::npos);
  CHECK(load(mutate([](ple::fb::Encoder* e) { e->mutable_string_offsets()->Mutate(20, 9999); })) ==
        PLE_ERROR_INVALID_MODEL);
}
