// ple-inspect: prints a model file's structure (levels, experts, gates, towers), parameter
// counts and bytes per dtype, versions and metadata. The file is verified by the runtime's
// loader before its structure is read. With --activity, runs the model over data and writes
// the diagnostics report (gate activity, structure, quantization error; docs/diagnostics.md).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>

#include "activity_report.h"
#include "html_report.h"
#include "load/integrity.h"
#include "ple/ple.hpp"
#include "ple_model_generated.h"
#include "version_text.h"

namespace {

struct Counts {
  std::map<std::string, std::pair<size_t, size_t>> by_dtype;  // dtype -> (elements, bytes)
  size_t parameters = 0;

  // A tensor without data is a packed layer's shape: its values are in a packed group, one
  // element size each (the group's padding and int8 scales are reported with the groups).
  void Add(const ple::fb::Tensor* tensor) {
    if (tensor == nullptr) return;
    size_t elements = 1;
    for (uint32_t d : *tensor->shape()) elements *= d;
    auto& entry = by_dtype[ple::fb::EnumNameDType(tensor->dtype())];
    entry.first += elements;
    entry.second += tensor->data() ? tensor->data()->size() : elements * DTypeBytes(tensor->dtype());
    parameters += elements;
  }

  void Merge(const Counts& other) {
    for (const auto& entry : other.by_dtype) {
      auto& t = by_dtype[entry.first];
      t.first += entry.second.first;
      t.second += entry.second.second;
    }
    parameters += other.parameters;
  }

  static size_t DTypeBytes(ple::fb::DType dtype) {
    switch (dtype) {
      case ple::fb::DType::I8: return 1;
      case ple::fb::DType::F16: return 2;
      default: return 4;
    }
  }
};

const char* ActivationName(ple::fb::Activation a) {
  switch (a) {
    case ple::fb::Activation::Identity: return "";
    case ple::fb::Activation::Relu: return " relu";
    case ple::fb::Activation::LeakyRelu: return " leaky_relu";
    case ple::fb::Activation::PRelu: return " prelu";
    case ple::fb::Activation::Sigmoid: return " sigmoid";
    case ple::fb::Activation::Tanh: return " tanh";
    case ple::fb::Activation::Silu: return " silu";
    case ple::fb::Activation::Dice: return " dice";
  }
  return " ?";
}

// "[24 -> 32 relu -> 16 relu]", counting the MLP's tensors into `counts`.
std::string DescribeMlp(const ple::fb::Mlp* mlp, Counts* counts) {
  if (mlp == nullptr) return "(none: weight 1)";
  std::string text = "[";
  for (uint32_t i = 0; i < mlp->layers()->size(); ++i) {
    const auto* layer = mlp->layers()->Get(i);
    if (i == 0) text += std::to_string(layer->weight()->shape()->Get(1));
    text += " -> " + std::to_string(layer->weight()->shape()->Get(0)) + ActivationName(layer->activation());
    if (layer->weight()->dtype() != ple::fb::DType::F32) {
      text += std::string(" ") + (layer->weight()->dtype() == ple::fb::DType::I8 ? "int8" : "f16");
    }
    counts->Add(layer->weight());
    counts->Add(layer->bias());
    counts->Add(layer->prelu_slope());
  }
  return text + "]";
}

// ", encoder: string vocabulary of 20 keys (240 bytes), OOV id 0" or "".
std::string DescribeEncoder(const ple::fb::Feature& feature) {
  const ple::fb::Encoder* e = feature.encoder();
  if (e == nullptr || e->kind() == ple::fb::EncoderKind::None) return "";
  const size_t keys = e->ids() ? e->ids()->size() : 0;
  const std::string oov = e->has_oov_id() ? ", OOV id " + std::to_string(e->oov_id()) : ", OOV an error";
  switch (e->kind()) {
    case ple::fb::EncoderKind::StringVocabulary: {
      const size_t bytes = e->string_bytes()->size() + e->string_offsets()->size() * 4 + keys * 8;
      return ", encoder: string vocabulary of " + std::to_string(keys) + " keys (" + std::to_string(bytes) +
             " bytes)" + oov;
    }
    case ple::fb::EncoderKind::IntVocabulary:
      return ", encoder: int64 vocabulary of " + std::to_string(keys) + " keys (" + std::to_string(keys * 16) +
             " bytes)" + oov;
    case ple::fb::EncoderKind::HashString:
      return ", encoder: ple_hash64 of strings into " + std::to_string(e->buckets()) + " buckets";
    case ple::fb::EncoderKind::HashInt:
      return ", encoder: ple_hash64 of int64 into " + std::to_string(e->buckets()) + " buckets";
    case ple::fb::EncoderKind::Boundaries:
      return ", encoder: " + std::to_string(e->boundaries()->size()) + " bucket boundaries";
    default:
      return ", encoder: unknown";
  }
}

std::string StreamName(uint32_t stream, const ple::fb::Model& model) {
  if (stream < model.tasks()->size()) return "task " + model.tasks()->Get(stream)->name()->str();
  return "shared";
}

struct InspectOptions {
  std::string path, sha256_hex, public_key_path;
  bool verify = false;
  std::string activity_data, report_path, float_model_path, kernels = "auto";
};

void AddOptions(CLI::App& app, InspectOptions* o) {
  app.add_option("model", o->path, "model file (.ple)")->required();
  app.add_flag("--verify", o->verify,
               "check the file's integrity trailer (its SHA-256 of the data) before reading it: exit status 1 when "
               "it is missing or does not match (docs/file-format.md)");
  app.add_option("--sha256", o->sha256_hex, "the file's expected SHA-256 (64 hex digits, as sha256sum prints it)");
  app.add_option("--public-key", o->public_key_path,
                 "require the trailer to be signed by this Ed25519 public key (32 bytes; builds with libsodium)")
      ->check(CLI::ExistingFile);
  app.add_option("--activity", o->activity_data,
                 "run the model over DATA (a conformance bundle directory or ple-run JSON lines) and write the "
                 "diagnostics report: gate weights per expert, structure, warnings (docs/diagnostics.md)")
      ->check(CLI::ExistingPath);
  app.add_option("--report", o->report_path, "where --activity writes its HTML report (default: MODEL.report.html)");
  app.add_option("--float-model", o->float_model_path,
                 "with --activity: the float32 conversion of this (quantized) model; adds the quantization error of "
                 "every layer and task output to the report")
      ->check(CLI::ExistingFile);
  app.add_option("--kernels", o->kernels, "with --activity: kernel path (auto, reference, avx2, ...)");
  app.set_version_flag("--version", ple::tools::VersionText("ple-inspect"));
}

// The loader's options for the integrity checks asked for; the digest and key they point to
// are kept in `expected` and `public_key`, which must outlive them. Throws std::runtime_error
// for a malformed --sha256 or a key file of the wrong size.
ple_model_open_options OpenOptions(const InspectOptions& o, std::vector<uint8_t>* expected,
                                   std::vector<uint8_t>* public_key) {
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  options.verify_checksum = o.verify ? 1 : 0;
  expected->assign(32, 0);
  if (!o.sha256_hex.empty()) {
    const std::string& hex = o.sha256_hex;
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      throw std::runtime_error("--sha256 takes 64 hex digits, got '" + hex + "'");
    }
    for (size_t i = 0; i < 32; ++i) {
      (*expected)[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    }
    options.expected_sha256 = expected->data();
  }
  if (!o.public_key_path.empty()) {
    std::ifstream key(o.public_key_path, std::ios::binary);
    public_key->assign(std::istreambuf_iterator<char>(key), std::istreambuf_iterator<char>());
    if (public_key->size() != ple::rt::kEd25519PublicKeyBytes) {
      throw std::runtime_error(o.public_key_path + ": an Ed25519 public key is 32 bytes, not " +
                               std::to_string(public_key->size()));
    }
    options.public_key = public_key->data();
  }
  return options;
}

// --activity: runs the model over the data, prints the summary and writes the HTML report.
void WriteActivityReport(const InspectOptions& o) {
  ple::tools::ActivityOptions activity_options;
  activity_options.float_model_path = o.float_model_path;
  ple::Check(ple_kernel_path_from_name(o.kernels.c_str(), &activity_options.kernel_path));
  const std::string report_path = o.report_path.empty() ? o.path + ".report.html" : o.report_path;
  std::fprintf(stderr, "ple-inspect: running %s over %s ...\n", o.path.c_str(), o.activity_data.c_str());
  const ple::tools::ActivityReport report = ple::tools::BuildActivityReport(o.path, o.activity_data, activity_options);
  std::printf("%s", ple::tools::FormatActivitySummary(report).c_str());
  for (const std::string& warning : report.warnings) {
    std::fprintf(stderr, "ple-inspect: warning: %s\n", warning.c_str());
  }
  std::ofstream out(report_path, std::ios::binary);
  out << ple::tools::RenderHtmlReport(report);
  out.close();
  if (!out) throw std::runtime_error("cannot write '" + report_path + "'");
  std::printf("wrote %s (%zu warnings)\n", report_path.c_str(), report.warnings.size());
}

// Name, metadata, versions, the file's digest and its integrity trailer.
void PrintFile(const ple::Model& verified, const ple::fb::Model& model, const std::vector<uint8_t>& bytes,
               const InspectOptions& o, bool signature_verified) {
  std::printf("model: %s\n", verified.metadata("name").c_str());
  const std::string description = verified.metadata("description");
  if (!description.empty()) std::printf("  description: %s\n", description.c_str());
  std::printf("  producer: %s; source framework: %s\n", verified.metadata("producer").c_str(),
              verified.metadata("source_framework").c_str());
  std::printf("  file: %zu bytes, schema version %u, min reader version %u (this runtime %s reads schema %u)\n",
              bytes.size(), model.schema_version(), model.min_reader_version(), ple_version_string(),
              ple_schema_version());
  const ple::rt::Sha256Digest digest = ple::rt::Sha256Of(bytes.data(), bytes.size());
  std::printf("  sha256: %s\n", ple::rt::HexOf(digest.data(), digest.size()).c_str());
  ple::rt::IntegrityTrailer trailer;
  if (!ple::rt::FindTrailer(bytes.data(), bytes.size(), &trailer)) {
    std::printf("  integrity trailer: none (written before trailers existed)\n");
  } else {
    std::printf("  integrity trailer: %s, data SHA-256 %s%s\n",
                trailer.flags & ple::rt::kTrailerSigned ? "signed (Ed25519)" : "unsigned",
                ple::rt::HexOf(trailer.sha256, sizeof trailer.sha256).c_str(),
                o.verify ? " (verified)" : " (not checked: --verify)");
  }
  if (signature_verified) std::printf("  signature: verified with %s\n", o.public_key_path.c_str());
}

void PrintTables(const ple::fb::Model& model, Counts* total) {
  const auto* tables = model.tables();
  if (tables == nullptr) return;
  std::printf("embedding tables:\n");
  for (uint32_t t = 0; t < tables->size(); ++t) {
    const auto* table = tables->Get(t);
    std::printf("  %-20s %u x %u %s, %u bytes\n", table->name()->c_str(), table->rows()->shape()->Get(0),
                table->rows()->shape()->Get(1), ple::fb::EnumNameDType(table->rows()->dtype()),
                table->rows()->data()->size());
    total->Add(table->rows());
  }
}

// One line per feature (its scope, kind, table, policies and encoder), then the extras.
void PrintFeatures(const ple::Model& verified, const ple::fb::Model& model) {
  std::printf("features (the input row: %zu floats; request-scope first):\n", verified.row_width());
  const auto* fb_features = model.features();
  const auto features = verified.features();
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& f = features[i];
    const char* scope = f.scope == PLE_SCOPE_REQUEST ? "request" : "candidate";
    if (f.kind == PLE_FEATURE_DENSE) {
      const bool normalized = fb_features && fb_features->Get(i)->normalize_mean();
      const bool replace = fb_features && fb_features->Get(i)->nan_policy() == ple::fb::NanPolicy::Replace;
      std::printf("  %-20s %-9s dense     width %zu%s%s\n", f.name.c_str(), scope, f.width,
                  normalized ? ", normalized" : "", replace ? ", NaN replaced" : ", NaN is an error");
      continue;
    }
    const auto* fb_feature = fb_features->Get(i);
    const char* oov = fb_feature->oov_policy() == ple::fb::OovPolicy::Hash     ? "hash"
                      : fb_feature->oov_policy() == ple::fb::OovPolicy::OovRow ? "oov row"
                                                                               : "error";
    const std::string table = model.tables()->Get(fb_feature->table())->name()->str();
    if (f.kind == PLE_FEATURE_SPARSE) {
      std::printf("  %-20s %-9s sparse    table %s (%zu ids), oov: %s%s\n", f.name.c_str(), scope, table.c_str(),
                  f.vocabulary, oov, DescribeEncoder(*fb_feature).c_str());
    } else {
      std::string padding = fb_feature->has_padding_id() ? std::to_string(fb_feature->padding_id()) : "none";
      std::printf("  %-20s %-9s sequence  table %s (%zu ids), max_length %zu, %s pooling, padding id %s, oov: %s%s\n",
                  f.name.c_str(), scope, table.c_str(), f.vocabulary, f.width,
                  fb_feature->pooling() == ple::fb::Pooling::Mean ? "mean" : "sum", padding.c_str(), oov,
                  DescribeEncoder(*fb_feature).c_str());
    }
  }
  for (const auto& extra : verified.extras()) std::printf("  %-20s candidate extra     (score only)\n", extra.c_str());
}

void PrintTasks(const ple::Model& verified) {
  std::printf("tasks:\n");
  for (const auto& task : verified.tasks()) {
    std::printf("  %-20s %s\n", task.name.c_str(), task.type == PLE_TASK_BINARY ? "binary (sigmoid)" : "regression");
  }
}

// The int8 groups that quantize their input row in slices (docs/quantization.md, "Input
// scales"): each slice's features, by the features' widths in row order.
void PrintInputSlices(const ple::fb::Model& model) {
  if (model.packed_groups() == nullptr || model.features() == nullptr) return;
  for (uint32_t i = 0; i < model.packed_groups()->size(); ++i) {
    const auto* widths = model.packed_groups()->Get(i)->slice_widths();
    if (widths == nullptr) continue;
    std::string text;
    uint32_t feature = 0;
    for (uint32_t s = 0; s < widths->size(); ++s) {
      std::string names;
      for (uint32_t covered = 0; covered < widths->Get(s) && feature < model.features()->size(); ++feature) {
        covered += model.features()->Get(feature)->width();
        names += (names.empty() ? "" : " ") + model.features()->Get(feature)->name()->str();
      }
      text += (s ? " | " : "") + names;
    }
    std::printf("  int8 input scales, %u slices (packed group %u): %s\n", widths->size(), i + 1, text.c_str());
  }
}

// Every level's experts and gates, with its parameter count; the counts are added to `total`.
void PrintLevels(const ple::fb::Model& model, Counts* total) {
  for (uint32_t l = 0; l < model.levels()->size(); ++l) {
    const auto* level = model.levels()->Get(l);
    Counts counts;
    const uint32_t expert_count = level->experts() ? level->experts()->size() : 0;
    std::printf("level %u: %u experts, %u gates\n", l, expert_count, level->gates()->size());
    for (uint32_t e = 0; e < expert_count; ++e) {
      const auto* expert = level->experts()->Get(e);
      const std::string owner = expert->input_stream() < model.tasks()->size()
                                    ? "specific to " + StreamName(expert->input_stream(), model).substr(5)
                                    : "shared";
      std::printf("  expert %-3u %-24s reads %-16s %s\n", e, owner.c_str(),
                  StreamName(expert->input_stream(), model).c_str(), DescribeMlp(expert->mlp(), &counts).c_str());
    }
    for (uint32_t g = 0; g < level->gates()->size(); ++g) {
      const auto* gate = level->gates()->Get(g);
      std::string experts;
      for (uint32_t i = 0; i < gate->experts()->size(); ++i) {
        experts += (i ? "," : "") + std::to_string(gate->experts()->Get(i));
      }
      std::printf("  gate   -> %-20s reads %-16s weighs experts [%s] %s\n",
                  StreamName(gate->output_stream(), model).c_str(), StreamName(gate->input_stream(), model).c_str(),
                  experts.c_str(), DescribeMlp(gate->mlp(), &counts).c_str());
    }
    if (l == 0) PrintInputSlices(model);
    std::printf("  level %u parameters: %zu\n", l, counts.parameters);
    total->Merge(counts);
  }
}

// The towers and their parameter count, added to `total`.
void PrintTowers(const ple::fb::Model& model, Counts* total) {
  std::printf("towers:\n");
  Counts tower_counts;
  for (uint32_t t = 0; t < model.towers()->size(); ++t) {
    const auto* tower = model.towers()->Get(t);
    std::printf("  %-20s reads %-16s %s\n", model.tasks()->Get(t)->name()->c_str(),
                StreamName(tower->input_stream(), model).c_str(), DescribeMlp(tower->mlp(), &tower_counts).c_str());
  }
  std::printf("  tower parameters: %zu\n", tower_counts.parameters);
  total->Merge(tower_counts);
}

// "score: click^1 * share^0.5 * f(video_len), f = Log1p, ...", when the model has a score.
void PrintScore(const ple::fb::Model& model) {
  const auto* score = model.score();
  if (score == nullptr) return;
  std::string product;
  for (uint32_t t = 0; t < score->exponents()->size(); ++t) {
    if (score->exponents()->Get(t) == 0.0f) continue;
    char term[128];
    std::snprintf(term, sizeof(term), "%s%s^%g", product.empty() ? "" : " * ", model.tasks()->Get(t)->name()->c_str(),
                  score->exponents()->Get(t));
    product += term;
  }
  const char* transform = ple::fb::EnumNameScoreTransform(score->transform());
  std::printf("score: %s * f(%s), f = %s%s, regression floor %g\n", product.c_str(),
              score->transform_input() ? score->transform_input()->c_str() : "", transform,
              score->transform() == ple::fb::ScoreTransform::Sigmoid
                  ? (" (scale " + std::to_string(score->transform_scale()) + ", offset " +
                     std::to_string(score->transform_offset()) + ")").c_str()
                  : "",
              score->regression_floor());
}

// Packed group index (0-based) -> how many layers of the model's MLPs it holds.
std::map<uint32_t, size_t> PackedGroupMembers(const ple::fb::Model& model) {
  std::map<uint32_t, size_t> members;
  auto count_members = [&](const ple::fb::Mlp* mlp) {
    if (mlp == nullptr) return;
    for (const auto* layer : *mlp->layers()) {
      if (layer->packed_group() != 0) ++members[layer->packed_group() - 1];
    }
  };
  for (const auto* level : *model.levels()) {
    if (level->experts()) for (const auto* e : *level->experts()) count_members(e->mlp());
    for (const auto* g : *level->gates()) count_members(g->mlp());
  }
  for (const auto* t : *model.towers()) count_members(t->mlp());
  return members;
}

// Every packed group (one GEMM each: several layers reading the same input, or one layer).
void PrintPackedGroups(const ple::fb::Model& model) {
  const auto* groups = model.packed_groups();
  if (groups == nullptr) return;
  std::map<uint32_t, size_t> members = PackedGroupMembers(model);
  size_t fused = 0;
  for (const auto& entry : members) fused += entry.second > 1;
  std::printf("packed groups: %u (%zu run several layers as one GEMM)\n", groups->size(), fused);
  for (uint32_t i = 0; i < groups->size(); ++i) {
    const auto* g = groups->Get(i);
    std::printf("  group %-3u %-4s %u layer%s, %u inputs%s -> %u columns, %u bytes\n", i + 1,
                ple::fb::EnumNameDType(g->dtype()), static_cast<unsigned>(members[i]), members[i] == 1 ? "" : "s",
                g->in(),
                g->request_columns() ? (" (" + std::to_string(g->request_columns()) + " request-scope)").c_str()
                                     : "",
                g->columns(), g->weights()->size());
  }
}

void PrintParameters(const Counts& total) {
  std::printf("parameters: %zu\n", total.parameters);
  for (const auto& entry : total.by_dtype) {
    std::printf("  %-4s %zu values, %zu bytes\n", entry.first.c_str(), entry.second.first, entry.second.second);
  }
}

// Opens the model with the integrity checks asked for (the loader verifies the file; throws if
// it is malformed or fails a check), then writes the activity report or prints the structure.
void Inspect(const InspectOptions& o) {
  std::ifstream in(o.path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<uint8_t> expected, public_key;
  const ple_model_open_options options = OpenOptions(o, &expected, &public_key);
  ple::Model verified = ple::Model::OpenFile(o.path, options);
  if (!o.activity_data.empty()) {
    WriteActivityReport(o);
    return;
  }
  const ple::fb::Model& model = *ple::fb::GetModel(bytes.data());
  PrintFile(verified, model, bytes, o, options.public_key != nullptr);
  Counts total;
  PrintTables(model, &total);
  PrintFeatures(verified, model);
  PrintTasks(verified);
  PrintLevels(model, &total);
  PrintTowers(model, &total);
  PrintScore(model);
  PrintPackedGroups(model);
  PrintParameters(total);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ple-inspect: print a PLE model file's structure, parameter counts and metadata."};
  InspectOptions options;
  AddOptions(app, &options);
  CLI11_PARSE(app, argc, argv);
  if (options.activity_data.empty() && (!options.report_path.empty() || !options.float_model_path.empty())) {
    std::fprintf(stderr, "ple-inspect: error: --report and --float-model need --activity DATA\n");
    return 2;
  }
  try {
    Inspect(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-inspect: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
