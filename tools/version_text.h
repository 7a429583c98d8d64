// The line every CLI prints for --version: its library, C ABI and model schema versions
// (docs/install.md, "Versions").
#ifndef PLE_TOOLS_VERSION_TEXT_H_
#define PLE_TOOLS_VERSION_TEXT_H_

#include <string>

#include "ple/ple.h"

namespace ple {
namespace tools {

// "ple-run 0.2.0 (C ABI 1.2.0, model schema 3.0.0)"
inline std::string VersionText(const std::string& tool) {
  return tool + " " + ple_version_string() + " (C ABI " + ple_abi_version_string() + ", model schema " +
         ple_schema_version_string() + ")";
}

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_VERSION_TEXT_H_
