// ModelReader: LoadedModel::Load's semantic checks and views, run only after the FlatBuffers verifier
// accepted the buffer (docs/architecture.md, "Load"). Every count, index and shape is checked
// before a view points at it, so a malformed file gives an error and never an out-of-bounds
// read. One reader per part of the model: model_reader.cc the whole (versions, metadata,
// tasks, levels, gates, towers, score), read_layers.cc dense layers and packed groups,
// read_features.cc the feature layer, tables and encoders. Internal to the loader.
#ifndef PLE_RUNTIME_LOAD_MODEL_READER_H_
#define PLE_RUNTIME_LOAD_MODEL_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "load/model.h"
#include "ple_model_generated.h"

namespace ple::rt {

// Structural caps: generous for any ranking model, small enough that products of them
// cannot overflow 64-bit sizes.
constexpr uint32_t kMaxWidth = 1u << 20;        // floats in one layer or input row
constexpr uint32_t kMaxLevels = 64;
constexpr uint32_t kMaxTasks = 256;
constexpr uint32_t kMaxExpertsPerLevel = 4096;
constexpr uint32_t kMaxLayersPerMlp = 64;
constexpr uint32_t kMaxGroupColumns = 1u << 24;  // the layers packed side by side in one group (each <= kMaxWidth)
constexpr uint32_t kUndefined = 0;  // a stream's width before a level writes it

// The dtype's name for messages ("unknown" for a value this reader does not know).
const char* DTypeName(fb::DType dtype);

// The reader version the loader applies: kReaderVersion, unless a test pins an older one to see
// what a runtime of that version does with a file (it then refuses files that need more).
uint32_t ReaderVersion();
void SetReaderVersionForTesting(uint32_t version);  // 0: back to kReaderVersion

class ModelReader {
 public:
  explicit ModelReader(LoadedModel* model) : model_(model) {}

  Status Read(const fb::Model& root);

 private:
  // model_reader.cc
  Status ReadTasks(const fb::Model& root);
  Status ReadLevelsAndTowers(const fb::Model& root);
  Status ReadLevel(const fb::Level& level, const std::string& level_name, std::vector<uint32_t>* stream_width);
  Status ReadGate(const fb::Gate& gate, const std::string& what, Level& level, const std::vector<uint32_t>& stream_width,
                  std::vector<uint32_t>* next_width);
  Status ReadTowers(const fb::Model& root, const std::vector<uint32_t>& stream_width);
  Status ReadScore(const fb::Model& root);
  // read_layers.cc
  // F32 data of exactly `expected_shape`, 64-byte aligned.
  Status ReadTensor(const fb::Tensor* tensor, const std::string& what, const std::vector<uint32_t>& expected_shape,
                    const float** out);
  Status ReadMlp(const fb::Mlp* mlp, const std::string& what, uint32_t in_width, Mlp* out);
  Status ReadDense(const fb::DenseLayer& layer, const std::string& what, uint32_t in_width, DenseLayer* out);
  Status ReadPackedGroups(const fb::Model& root);
  Status ReadInt8Group(const fb::PackedGroup& g, const std::string& what, PackedGroup* group, uint64_t* expected);
  Status CheckPackedGroups() const;
  Status PackRowMajorLayers();
  // read_features.cc
  Status ReadTables(const fb::Model& root);
  Status ReadFeatureLayer(const fb::Model& root);
  Status ReadFeature(const fb::Feature& feature, FeatureSpec* info);
  Status ReadDenseFeature(const fb::Feature& feature, FeatureSpec* info);
  Status ReadEncoder(const fb::Encoder& encoder, uint32_t table_rows, FeatureSpec* info);
  Status ReadVocabulary(const fb::Encoder& encoder, uint32_t table_rows, FeatureSpec* info);

  LoadedModel* model_;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_MODEL_READER_H_
