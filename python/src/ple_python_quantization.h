// The quantization report in Python (docs/python.md): ple.quantization_report and
// ple.compare_ranking over tools/quantization_report.h and tools/ranking_metrics.h.
#ifndef PLE_PYTHON_QUANTIZATION_H_
#define PLE_PYTHON_QUANTIZATION_H_

#include <pybind11/pybind11.h>

namespace ple {
namespace python {

void BindQuantization(pybind11::module_& m);

}  // namespace python
}  // namespace ple

#endif  // PLE_PYTHON_QUANTIZATION_H_
