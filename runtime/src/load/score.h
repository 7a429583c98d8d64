// The ranking score's rules, in one place for the loader, the C API, the session and the
// converter: score = prod_k max(p_k, floor if task k is a regression)^exponents[k] * f(x), where
// f is the transform of one candidate input x (docs/config-format.md, "score").
#ifndef PLE_RUNTIME_LOAD_SCORE_H_
#define PLE_RUNTIME_LOAD_SCORE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ple::rt {

enum class ScoreTransform : uint8_t { kNone, kIdentity, kLog1p, kSigmoid };

// The formula, as the file stores it and ple_session_set_score replaces it.
struct ScoreFormula {
  std::vector<float> exponents;        // one per task
  float regression_floor = 0.0f;       // finite, >= 0
  ScoreTransform transform = ScoreTransform::kNone;
  float transform_scale = 1.0f;        // kSigmoid: sigmoid(scale x + offset); finite
  float transform_offset = 0.0f;
};

// What the transform may read: an extra, or a candidate-scope dense feature of width 1 (one
// value per candidate, known before the run).
constexpr const char* kScoreTransformInputRule = "an extra or a candidate-scope dense feature of width 1";
inline bool IsScoreTransformInput(bool is_extra, bool dense, bool candidate_scope, uint32_t width) {
  return is_extra || (dense && candidate_scope && width == 1);
}

struct TaskSpec;

// Empty when the formula's numbers are usable for these tasks, else what is wrong, naming the
// task (score.cc).
std::string ScoreFormulaProblem(const ScoreFormula& formula, const std::vector<TaskSpec>& tasks);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_SCORE_H_
