// Draws an ActivityReport as one self-contained HTML file: XHTML that is also well-formed
// XML, inline SVG drawn here (no script, no external asset, no plotting library). The figures:
// the model's structure; per level the mean weight each gate gives each expert with its
// 10th-90th percentile (the PLE paper's expert-utilisation figure); with a float32 model, the
// quantization error per layer and task. Every bar carries its exact numbers in data-*
// attributes (docs/diagnostics.md lists them) so tests and scripts can read them back.
#ifndef PLE_TOOLS_HTML_REPORT_H_
#define PLE_TOOLS_HTML_REPORT_H_

#include <string>

#include "activity_report.h"

namespace ple {
namespace tools {

std::string RenderHtmlReport(const ActivityReport& report);

// `text` with &, <, >, " and ' escaped for XML text and attribute values.
std::string EscapeXml(const std::string& text);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_HTML_REPORT_H_
