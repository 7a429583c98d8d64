#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/portable-math.h"

namespace ple::rt {
namespace kernels {

float f32_ranking_score__scalar(const ScoreFormula& formula, const TaskSpec* tasks, const float* p, float x) {
  float score = 1.0f;
  for (size_t t = 0; t < formula.exponents.size(); ++t) {
    const float w = formula.exponents[t];
    if (w == 0.0f) continue;
    float value = p[t];
    if (tasks[t].type == PLE_TASK_REGRESSION) value = std::max(value, formula.regression_floor);
    score *= Pow(value, w);
  }
  switch (formula.transform) {
    case ScoreTransform::kNone: break;
    case ScoreTransform::kIdentity: score *= x; break;
    case ScoreTransform::kLog1p: score *= Log1p(std::max(x, 0.0f)); break;
    case ScoreTransform::kSigmoid: score *= sigmoid(formula.transform_scale * x + formula.transform_offset); break;
  }
  return score;
}

}  // namespace kernels
}  // namespace ple::rt
