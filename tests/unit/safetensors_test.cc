// The safetensors reader: accepts well-formed files, names the problem in malformed ones.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "convert_error.h"
#include "safetensors.h"

using ple::convert::ConvertError;
using ple::convert::MakeF32Tensor;
using ple::convert::SafeDType;
using ple::convert::SafeTensorsFile;
using ple::convert::SafeTensorToWrite;
using ple::convert::WriteSafeTensors;

namespace {

// A file image whose header is `header` (padded), followed by `data_bytes` zero bytes.
std::vector<uint8_t> RawFile(const std::string& header, size_t data_bytes) {
  std::string text = header;
  while (text.size() % 8) text += ' ';
  std::vector<uint8_t> bytes(8 + text.size() + data_bytes, 0);
  const uint64_t length = text.size();
  std::memcpy(bytes.data(), &length, 8);
  std::memcpy(bytes.data() + 8, text.data(), text.size());
  return bytes;
}

std::string ParseError(std::vector<uint8_t> bytes) {
  try {
    SafeTensorsFile::Parse(std::move(bytes), "test file");
  } catch (const ConvertError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("safetensors: a written file reads back with names, shapes, values and metadata", "[safetensors]") {
  std::map<std::string, SafeTensorToWrite> tensors;
  tensors["a.weight"] = MakeF32Tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  tensors["b"] = MakeF32Tensor({1}, {-0.5f});
  const auto file = SafeTensorsFile::Parse(WriteSafeTensors(tensors, {{"format", "pt"}}), "test");
  REQUIRE(file.tensors().size() == 2);
  REQUIRE(file.metadata().at("format") == "pt");
  const auto* a = file.Find("a.weight");
  REQUIRE(a != nullptr);
  CHECK(a->shape == std::vector<uint64_t>{2, 3});
  CHECK(a->ToFloat("a.weight") == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(file.Find("b")->ToFloat("b") == std::vector<float>{-0.5f});
  CHECK(file.Find("missing") == nullptr);
}

TEST_CASE("safetensors: F64, F16 and BF16 convert to float32", "[safetensors]") {
  std::map<std::string, SafeTensorToWrite> tensors;
  SafeTensorToWrite f64{SafeDType::kF64, {2}, std::vector<uint8_t>(16)};
  const double doubles[2] = {0.1, -3.0};
  std::memcpy(f64.bytes.data(), doubles, 16);
  tensors["f64"] = f64;
  // 1.0 = 0x3C00 in half, -2.5 = 0xC100; 1.5 = 0x3FC0 in bfloat16.
  tensors["f16"] = SafeTensorToWrite{SafeDType::kF16, {2}, {0x00, 0x3C, 0x00, 0xC1}};
  tensors["bf16"] = SafeTensorToWrite{SafeDType::kBF16, {1}, {0xC0, 0x3F}};
  const auto file = SafeTensorsFile::Parse(WriteSafeTensors(tensors), "test");
  CHECK(file.Find("f64")->ToFloat("f64") == std::vector<float>{0.1f, -3.0f});
  CHECK(file.Find("f16")->ToFloat("f16") == std::vector<float>{1.0f, -2.5f});
  CHECK(file.Find("bf16")->ToFloat("bf16") == std::vector<float>{1.5f});
}

TEST_CASE("safetensors: non-finite values and non-float dtypes are rejected by name", "[safetensors]") {
  std::map<std::string, SafeTensorToWrite> tensors;
  tensors["nan"] = MakeF32Tensor({2}, {1.0f, std::nanf("")});
  tensors["inf"] = MakeF32Tensor({1}, {INFINITY});
  SafeTensorToWrite big{SafeDType::kF64, {1}, std::vector<uint8_t>(8)};
  const double huge = 1e300;  // finite in float64, not in float32
  std::memcpy(big.bytes.data(), &huge, 8);
  tensors["big"] = big;
  tensors["ints"] = SafeTensorToWrite{SafeDType::kI64, {1}, std::vector<uint8_t>(8)};
  const auto file = SafeTensorsFile::Parse(WriteSafeTensors(tensors), "test");
  CHECK_THROWS_WITH(file.Find("nan")->ToFloat("nan"), Catch::Contains("'nan'") && Catch::Contains("not finite"));
  CHECK_THROWS_WITH(file.Find("inf")->ToFloat("inf"), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(file.Find("big")->ToFloat("big"), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(file.Find("ints")->ToFloat("ints"), Catch::Contains("I64") && Catch::Contains("floating-point"));
}

TEST_CASE("safetensors: malformed files are rejected with the reason", "[safetensors]") {
  CHECK_THAT(ParseError({1, 2, 3}), Catch::Contains("not a safetensors file"));
  std::vector<uint8_t> huge_header(16, 0);
  huge_header[0] = 0xFF;
  huge_header[1] = 0xFF;
  CHECK_THAT(ParseError(huge_header), Catch::Contains("does not fit"));
  CHECK_THAT(ParseError(RawFile("{not json", 0)), Catch::Contains("not valid JSON"));
  CHECK_THAT(ParseError(RawFile("[]", 0)), Catch::Contains("not a JSON object"));
  CHECK_THAT(ParseError(RawFile(R"({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}})", 4)),
             Catch::Contains("unsupported dtype"));
  CHECK_THAT(ParseError(RawFile(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4)),
             Catch::Contains("outside"));
  CHECK_THAT(ParseError(RawFile(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8)),
             Catch::Contains("12 expected"));
  CHECK_THAT(ParseError(RawFile(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4)),
             Catch::Contains("negative"));
  CHECK_THAT(ParseError(RawFile(R"({"t": {"dtype": "F32", "shape": [1]}})", 4)), Catch::Contains("data_offsets"));
  CHECK_THAT(ParseError(RawFile(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                12)),
             Catch::Contains("overlap"));
  CHECK_THAT(ParseError(RawFile(R"({"__metadata__": {"k": 1}})", 0)), Catch::Contains("not a string"));
}
