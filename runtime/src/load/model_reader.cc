// LoadedModel::Load, and the reader of the model as a whole: versions, metadata, tasks, levels with
// their experts and gates, towers, the score (model_reader.h).
#include <atomic>
#include <cstring>
#include <set>
#include <string>

#include "load/model_reader.h"
#include "load/structure_verifier.h"

namespace ple::rt {

const char* DTypeName(fb::DType dtype) {
  const char* name = fb::EnumNameDType(dtype);
  return name[0] != '\0' ? name : "unknown";
}

namespace {
std::atomic<uint32_t> pinned_reader_version{0};
}  // namespace

uint32_t ReaderVersion() {
  const uint32_t pinned = pinned_reader_version.load(std::memory_order_relaxed);
  return pinned != 0 ? pinned : kReaderVersion;
}

void SetReaderVersionForTesting(uint32_t version) { pinned_reader_version.store(version, std::memory_order_relaxed); }

Status ModelReader::Read(const fb::Model& root) {
  LoadedModel& m = *model_;
  if (root.min_reader_version() == 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "min_reader_version is 0: not written by a PLE converter");
  }
  if (root.min_reader_version() > ReaderVersion()) {
    return MakeError(PLE_ERROR_UNSUPPORTED_VERSION,
                     "the model needs reader version %u, this runtime is reader version %u: upgrade the runtime",
                     root.min_reader_version(), ReaderVersion());
  }
  if (const fb::Metadata* meta = root.metadata()) {
    if (meta->name()) m.name_ = meta->name()->str();
    if (meta->description()) m.description_ = meta->description()->str();
    if (meta->producer()) m.producer_ = meta->producer()->str();
    if (meta->source_framework()) m.source_framework_ = meta->source_framework()->str();
  }
  Status status = ReadFeatureLayer(root);
  if (status.ok()) status = ReadPackedGroups(root);
  if (status.ok()) status = ReadTasks(root);
  if (status.ok()) status = ReadLevelsAndTowers(root);
  if (status.ok()) status = CheckPackedGroups();
  if (status.ok()) status = PackRowMajorLayers();
  if (status.ok()) status = ReadScore(root);
  return status;
}

Status ModelReader::ReadTasks(const fb::Model& root) {
  LoadedModel& m = *model_;
  const auto* tasks = root.tasks();
  if (tasks == nullptr || tasks->size() == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no tasks");
  if (tasks->size() > kMaxTasks) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%u tasks, at most %u allowed", tasks->size(), kMaxTasks);
  }
  std::set<std::string> names;
  for (uint32_t t = 0; t < tasks->size(); ++t) {
    const fb::Task* task = tasks->Get(t);
    TaskSpec info;
    info.name = task->name()->str();
    if (task->type() == fb::TaskType::Binary) {
      info.type = PLE_TASK_BINARY;
    } else if (task->type() == fb::TaskType::Regression) {
      info.type = PLE_TASK_REGRESSION;
    } else {
      return MakeError(PLE_ERROR_UNSUPPORTED, "task '%s': type %d unknown", info.name.c_str(),
                       static_cast<int>(task->type()));
    }
    if (!names.insert(info.name).second) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "task name '%s' appears twice", info.name.c_str());
    }
    m.tasks_.push_back(std::move(info));
  }
  return Status::Ok();
}

// Levels, then towers: `stream_width` tracks which streams the previous level defined and how
// wide they are (kUndefined: not written); the first level's streams are all the input row.
Status ModelReader::ReadLevelsAndTowers(const fb::Model& root) {
  LoadedModel& m = *model_;
  const auto* levels = root.levels();
  if (levels == nullptr || levels->size() == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no levels");
  if (levels->size() > kMaxLevels) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%u levels, at most %u allowed", levels->size(), kMaxLevels);
  }
  std::vector<uint32_t> stream_width(m.stream_count(), m.row_width_);
  for (uint32_t l = 0; l < levels->size(); ++l) {
    Status status = ReadLevel(*levels->Get(l), "levels." + std::to_string(l), &stream_width);
    if (!status.ok()) return status;
  }
  return ReadTowers(root, stream_width);
}

Status ModelReader::ReadLevel(const fb::Level& fb_level, const std::string& level_name,
                              std::vector<uint32_t>* stream_width) {
  LoadedModel& m = *model_;
  const uint32_t stream_count = m.stream_count();
  Level level;
  const auto* experts = fb_level.experts();
  const uint32_t expert_count = experts ? experts->size() : 0;
  if (expert_count > kMaxExpertsPerLevel) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u experts, at most %u allowed", level_name.c_str(), expert_count,
                     kMaxExpertsPerLevel);
  }
  for (uint32_t e = 0; e < expert_count; ++e) {
    const fb::Expert* fb_expert = experts->Get(e);
    const std::string what = level_name + ".experts." + std::to_string(e);
    Expert expert;
    expert.input_stream = fb_expert->input_stream();
    if (expert.input_stream >= stream_count || (*stream_width)[expert.input_stream] == kUndefined) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not defined at this level", what.c_str(),
                       expert.input_stream);
    }
    Status status = ReadMlp(fb_expert->mlp(), what, (*stream_width)[expert.input_stream], &expert.mlp);
    if (!status.ok()) return status;
    level.experts.push_back(std::move(expert));
  }
  const auto* gates = fb_level.gates();
  if (gates == nullptr || gates->size() == 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a level needs at least one gate", level_name.c_str());
  }
  std::vector<uint32_t> next_width(stream_count, kUndefined);
  for (uint32_t g = 0; g < gates->size(); ++g) {
    Status status = ReadGate(*gates->Get(g), level_name + ".gates." + std::to_string(g), level, *stream_width,
                             &next_width);
    if (!status.ok()) return status;
  }
  *stream_width = next_width;
  m.levels_.push_back(std::move(level));
  return Status::Ok();
}

// One gate of `level` (its experts already read), writing its output stream's width into
// `next_width`.
Status ModelReader::ReadGate(const fb::Gate& fb_gate, const std::string& what, Level& level,
                             const std::vector<uint32_t>& stream_width, std::vector<uint32_t>* next_width) {
  const uint32_t stream_count = model_->stream_count();
  const uint32_t expert_count = static_cast<uint32_t>(level.experts.size());
  Gate gate;
  gate.input_stream = fb_gate.input_stream();
  gate.output_stream = fb_gate.output_stream();
  if (gate.input_stream >= stream_count || stream_width[gate.input_stream] == kUndefined) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not defined at this level", what.c_str(),
                     gate.input_stream);
  }
  if (gate.output_stream >= stream_count) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: output stream %u out of range [0, %u)", what.c_str(),
                     gate.output_stream, stream_count);
  }
  if ((*next_width)[gate.output_stream] != kUndefined) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: output stream %u is written by two gates", what.c_str(),
                     gate.output_stream);
  }
  const auto* indices = fb_gate.experts();
  if (indices == nullptr || indices->size() == 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a gate needs at least one expert", what.c_str());
  }
  uint32_t width = kUndefined;
  for (uint32_t i = 0; i < indices->size(); ++i) {
    const uint32_t e = indices->Get(i);
    if (e >= expert_count) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: expert index %u out of range [0, %u)", what.c_str(), e,
                       expert_count);
    }
    const uint32_t expert_width = level.experts[e].mlp.out();
    if (width != kUndefined && expert_width != width) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: experts of one gate differ in output width (%u and %u)",
                       what.c_str(), width, expert_width);
    }
    width = expert_width;
    gate.experts.push_back(e);
  }
  if (fb_gate.mlp() == nullptr) {
    if (gate.experts.size() != 1) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a gate without an MLP must have exactly one expert, found %zu",
                       what.c_str(), gate.experts.size());
    }
  } else {
    Status status = ReadMlp(fb_gate.mlp(), what, stream_width[gate.input_stream], &gate.mlp);
    if (!status.ok()) return status;
    if (gate.mlp.out() != gate.experts.size()) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: the gate MLP gives %u logits for %zu experts", what.c_str(),
                       gate.mlp.out(), gate.experts.size());
    }
  }
  (*next_width)[gate.output_stream] = width;
  level.gates.push_back(std::move(gate));
  return Status::Ok();
}

// One tower per task, reading a stream the last level writes; the head has one output.
Status ModelReader::ReadTowers(const fb::Model& root, const std::vector<uint32_t>& stream_width) {
  LoadedModel& m = *model_;
  const uint32_t stream_count = m.stream_count();
  const auto* towers = root.towers();
  if (towers == nullptr || towers->size() != m.tasks_.size()) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%zu towers expected (one per task), found %u", m.tasks_.size(),
                     towers ? towers->size() : 0);
  }
  for (uint32_t t = 0; t < towers->size(); ++t) {
    const fb::Tower* fb_tower = towers->Get(t);
    const std::string what = "towers." + std::to_string(t);
    Tower tower;
    tower.input_stream = fb_tower->input_stream();
    if (tower.input_stream >= stream_count || stream_width[tower.input_stream] == kUndefined) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not written by the last level", what.c_str(),
                       tower.input_stream);
    }
    Status status = ReadMlp(fb_tower->mlp(), what, stream_width[tower.input_stream], &tower.mlp);
    if (!status.ok()) return status;
    if (tower.mlp.out() != 1) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: the head must have 1 output, found %u", what.c_str(),
                       tower.mlp.out());
    }
    m.towers_.push_back(std::move(tower));
  }
  return Status::Ok();
}

Status ModelReader::ReadScore(const fb::Model& root) {
  LoadedModel& m = *model_;
  const fb::Score* score = root.score();
  if (score == nullptr) return Status::Ok();
  ScoreSpec& info = m.score_;
  info.present = true;
  ScoreFormula& formula = info.formula;
  if (const auto* exponents = score->exponents()) formula.exponents.assign(exponents->begin(), exponents->end());
  formula.regression_floor = score->regression_floor();
  switch (score->transform()) {
    case fb::ScoreTransform::None: formula.transform = ScoreTransform::kNone; break;
    case fb::ScoreTransform::Identity: formula.transform = ScoreTransform::kIdentity; break;
    case fb::ScoreTransform::Log1p: formula.transform = ScoreTransform::kLog1p; break;
    case fb::ScoreTransform::Sigmoid: formula.transform = ScoreTransform::kSigmoid; break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "score: transform %d unknown", static_cast<int>(score->transform()));
  }
  formula.transform_scale = score->transform_scale();
  formula.transform_offset = score->transform_offset();
  const std::string problem = ScoreFormulaProblem(formula, m.tasks_);
  if (!problem.empty()) return MakeError(PLE_ERROR_INVALID_MODEL, "score: %s", problem.c_str());
  if (formula.transform != ScoreTransform::kNone) {
    info.transform_input = score->transform_input() ? score->transform_input()->str() : "";
    if (!m.IsScoreTransformInput(m.FindInput(info.transform_input.c_str()))) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "score: transform input '%s' is not %s", info.transform_input.c_str(),
                       kScoreTransformInputRule);
    }
  }
  return Status::Ok();
}

Status LoadedModel::Load(std::unique_ptr<ModelBytes> bytes, std::shared_ptr<const LoadedModel>* out, bool skip_verifier) {
  if (bytes->size() < 8 || !fb::ModelBufferHasIdentifier(bytes->data())) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "not a PLE model file (file identifier \"%s\" missing)",
                     fb::ModelIdentifier());
  }
  if (bytes->size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "model file of %zu bytes is larger than FlatBuffers allows",
                     bytes->size());
  }
  if (!skip_verifier && !VerifyModelStructure(bytes->data(), bytes->size())) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "model file is corrupted or truncated (FlatBuffers verification failed)");
  }
  std::shared_ptr<LoadedModel> model(new LoadedModel());
  ModelReader reader(model.get());
  Status status = reader.Read(*fb::GetModel(bytes->data()));
  if (!status.ok()) return status;
  model->bytes_ = std::move(bytes);
  *out = std::move(model);
  return Status::Ok();
}

int LoadedModel::FindInput(const char* name) const {
  for (size_t i = 0; i < features_.size(); ++i) {
    if (features_[i].name == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < extras_.size(); ++i) {
    if (extras_[i] == name) return static_cast<int>(features_.size() + i);
  }
  return -1;
}

bool LoadedModel::IsScoreTransformInput(int input) const {
  if (input < 0) return false;
  const bool is_extra = input >= static_cast<int>(features_.size());
  if (is_extra) return true;
  const FeatureSpec& f = features_[input];
  return rt::IsScoreTransformInput(false, f.kind == FeatureKind::kDense, f.scope == PLE_SCOPE_CANDIDATE, f.width);
}

const std::string* LoadedModel::metadata(const char* key) const {
  if (std::strcmp(key, "name") == 0) return &name_;
  if (std::strcmp(key, "description") == 0) return &description_;
  if (std::strcmp(key, "producer") == 0) return &producer_;
  if (std::strcmp(key, "source_framework") == 0) return &source_framework_;
  return nullptr;
}

}  // namespace ple::rt
