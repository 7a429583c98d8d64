#include "load/score.h"

#include <cmath>

#include "load/model.h"

namespace ple::rt {

std::string ScoreFormulaProblem(const ScoreFormula& formula, const std::vector<TaskSpec>& tasks) {
  if (formula.exponents.size() != tasks.size()) {
    return std::to_string(tasks.size()) + " exponents expected (one per task), found " +
           std::to_string(formula.exponents.size());
  }
  for (size_t t = 0; t < tasks.size(); ++t) {
    if (!std::isfinite(formula.exponents[t])) return "the exponent of task '" + tasks[t].name + "' is not finite";
  }
  if (!(formula.regression_floor >= 0.0f) || !std::isfinite(formula.regression_floor)) {
    return "regression_floor must be finite and >= 0";
  }
  if (!std::isfinite(formula.transform_scale) || !std::isfinite(formula.transform_offset)) {
    return "transform scale and offset must be finite";
  }
  return "";
}

}  // namespace ple::rt
