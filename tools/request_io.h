// ple-run's input and output formats (docs/ple-run.md).
// Input, one candidate per record, values for every model input:
//   JSON lines: {"user": [0.1, ...], "item": [...], "price": 3.5}   (width-1 inputs may be a number)
//   CSV: a header naming one column per value, "name" for a width-1 input, "name.0" ..
//        "name.{w-1}" otherwise; columns in any order.
// Output: CSV ("candidate,<task>,...") or JSON lines ({"candidate": i, "<task>": value, ...}).
#ifndef PLE_TOOLS_REQUEST_IO_H_
#define PLE_TOOLS_REQUEST_IO_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "ple/ple.hpp"

namespace ple {
namespace tools {

// Rows of row_width floats, candidate after candidate. Throws std::runtime_error naming the
// line, the input and what was wrong.
std::vector<float> ReadJsonLines(std::istream& in, const std::vector<InputInfo>& inputs);
std::vector<float> ReadCsv(std::istream& in, const std::vector<InputInfo>& inputs);

void WriteCsv(std::ostream& out, const std::vector<TaskInfo>& tasks, const std::vector<float>& outputs);
void WriteJsonLines(std::ostream& out, const std::vector<TaskInfo>& tasks, const std::vector<float>& outputs);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_REQUEST_IO_H_
