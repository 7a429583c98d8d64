#include "framework_common.h"

#include <cctype>
#include <cstdlib>

namespace ple {
namespace convert {

using nlohmann::json;

bool StartFrameworkModel(const JsonReader& in, const json& root, const char* framework, ModelConfig* config) {
  if (!root.is_object()) in.Fail("(top level)", "an object expected");
  const std::string found = in.String(root, "framework", "(top level)");
  if (found != framework) {
    in.Fail("framework", "\"" + std::string(framework) + "\" expected (the --from option), found \"" + found + "\"");
  }
  const std::string model = in.String(root, "model", "(top level)");
  if (model != "PLE" && model != "MMOE") in.Fail("model", "\"PLE\" or \"MMOE\" expected");
  config->source_framework = framework;
  config->name = model;
  return model == "PLE";
}

fb::Scope ReadScope(const JsonReader& in, const json& feature, const std::string& where) {
  const std::string scope = in.String(feature, "scope", where, "candidate");
  if (scope == "request") return fb::Scope::Request;
  if (scope == "candidate") return fb::Scope::Candidate;
  in.Fail(where + ".scope", "\"request\" or \"candidate\" expected");
}

ActivationConfig MapActivation(const JsonReader& in, const std::string& name, const std::string& where,
                               bool dice_supported) {
  ActivationConfig a;
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "relu") {
    a.type = fb::Activation::Relu;
  } else if (lower == "sigmoid") {
    a.type = fb::Activation::Sigmoid;
  } else if (lower == "prelu") {
    a.type = fb::Activation::PRelu;
  } else if (lower == "leakyrelu") {
    a.type = fb::Activation::LeakyRelu;  // nn.LeakyReLU(): slope 0.01
  } else if (lower == "linear") {
    a.type = fb::Activation::Identity;
  } else if (lower == "dice" && dice_supported) {
    a.type = fb::Activation::Dice;  // torch-rechub's Dice(epsilon=1e-3)
  } else if (lower == "dice") {
    in.Fail(where, "dice is not supported here: DeepCTR-Torch's DNN builds Dice for 3-d inputs only");
  } else {
    in.Fail(where, "unsupported activation '" + name + "'");
  }
  return a;
}

std::vector<std::string> SplitName(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      parts.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

uint32_t NameNumber(const std::string& text) { return static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10)); }

std::string JoinName(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ".") + part;
  return out;
}

namespace {

// levels.{l}.<owner>...: the owner and where its part starts.
size_t ParseLevelOwner(const std::vector<std::string>& p, NativeName* n) {
  n->level = NameNumber(p[1]);
  const std::string& owner = p[2];
  if (owner == "specific_experts") {
    n->owner = Owner::kSpecificExpert;
    n->task = NameNumber(p[3]);
    n->index = NameNumber(p[4]);
    return 5;
  }
  if (owner == "shared_experts") {
    n->owner = Owner::kSharedExpert;
    n->index = NameNumber(p[3]);
    return 4;
  }
  if (owner == "task_gates") {
    n->owner = Owner::kTaskGate;
    n->task = NameNumber(p[3]);
    return 4;
  }
  n->owner = Owner::kSharedGate;
  return 3;
}

}  // namespace

NativeName ParseNativeName(const std::string& name) {
  NativeName n;
  const std::vector<std::string> p = SplitName(name);
  if (p[0] == "embeddings") {
    n.owner = Owner::kEmbedding;
    n.part = Part::kTable;
    n.table = name.substr(std::string("embeddings.").size(), name.size() - std::string("embeddings..weight").size());
    return n;
  }
  size_t next = 0;
  if (p[0] == "towers") {
    n.owner = Owner::kTower;
    n.task = NameNumber(p[1]);
    next = 2;
  } else {
    next = ParseLevelOwner(p, &n);
  }
  if (p[next] == "layers") {
    n.part = Part::kLayer;
    n.layer = NameNumber(p[next + 1]);
    n.module = p[next + 2];
    n.param = p[next + 3];
  } else if (p[next] == "logits") {
    n.part = Part::kLogits;
    n.module = p[next + 1];
    n.param = p[next + 2];
  } else if (p[next] == "head") {
    n.part = Part::kHead;
    n.param = p[next + 1];
  } else {
    n.part = Part::kOutputBias;
  }
  return n;
}

}  // namespace convert
}  // namespace ple
