// The converter reports every problem as a ConvertError whose message names the config key or
// tensor and, for shapes, what was expected and what was found. It is a tool, not the runtime:
// exceptions are fine here.
#ifndef PLE_CONVERTER_CONVERT_ERROR_H_
#define PLE_CONVERTER_CONVERT_ERROR_H_

#include <stdexcept>
#include <string>

namespace ple {
namespace convert {

class ConvertError : public std::runtime_error {
 public:
  explicit ConvertError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_CONVERT_ERROR_H_
