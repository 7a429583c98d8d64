#include "html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace ple {
namespace tools {
namespace {

// Task streams take these colours in order (cycling); the shared stream is grey.
const char* const kTaskColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b6ecf"};
constexpr const char* kSharedColour = "#8c8c8c";

std::string Colour(const ModelShape& model, uint32_t stream) {
  if (stream >= model.tasks.size()) return kSharedColour;
  return kTaskColours[stream % (sizeof(kTaskColours) / sizeof(kTaskColours[0]))];
}

// Display numbers (6 significant digits) and exact ones for data-* attributes (9: a float's
// round trip).
std::string Num(double v, int digits = 6) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*g", digits, v);
  return text;
}
std::string Exact(double v) { return Num(v, 9); }

std::string Widths(const std::vector<uint32_t>& widths) {
  std::string text;
  for (size_t i = 0; i < widths.size(); ++i) text += (i ? "\xe2\x86\x92" : "") + std::to_string(widths[i]);  // →
  return text;
}

std::string Count(uint64_t n) {
  if (n >= 10000000) return Num(static_cast<double>(n) / 1e6, 3) + "M";
  if (n >= 10000) return Num(static_cast<double>(n) / 1e3, 3) + "k";
  return std::to_string(n);
}

std::string Clip(const std::string& text, size_t chars) {
  return text.size() <= chars ? text : text.substr(0, chars - 1) + "~";
}

// A minimal SVG writer: elements appended to a string, attributes escaped.
class Svg {
 public:
  Svg(double width, double height, const std::string& id, const std::string& title) {
    out_ << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << EscapeXml(id) << "\" width=\"" << Num(width)
         << "\" height=\"" << Num(height) << "\" viewBox=\"0 0 " << Num(width) << " " << Num(height)
         << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\" role=\"img\">\n"
         << "<title>" << EscapeXml(title) << "</title>\n"
         << "<rect x=\"0\" y=\"0\" width=\"" << Num(width) << "\" height=\"" << Num(height) << "\" fill=\"#ffffff\"/>\n";
  }
  void Rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke,
            const std::string& extra = "") {
    out_ << "<rect x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" width=\"" << Num(w) << "\" height=\"" << Num(h)
         << "\" fill=\"" << fill << "\"" << (stroke.empty() ? "" : " stroke=\"" + stroke + "\"") << extra << "/>\n";
  }
  void Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1.0,
            const std::string& extra = "") {
    out_ << "<line x1=\"" << Num(x1) << "\" y1=\"" << Num(y1) << "\" x2=\"" << Num(x2) << "\" y2=\"" << Num(y2)
         << "\" stroke=\"" << stroke << "\" stroke-width=\"" << Num(width) << "\"" << extra << "/>\n";
  }
  // anchor: "start", "middle", "end".
  void Text(double x, double y, const std::string& text, const std::string& anchor = "start",
            const std::string& extra = "") {
    out_ << "<text x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" text-anchor=\"" << anchor << "\"" << extra << ">"
         << EscapeXml(text) << "</text>\n";
  }
  std::string Finish() {
    out_ << "</svg>\n";
    return out_.str();
  }

 private:
  std::ostringstream out_;
};

// Boxes of text lines, centred.
void Box(Svg& svg, double x, double y, double w, double h, const std::string& colour,
         const std::vector<std::string>& lines, const std::string& extra = "") {
  svg.Rect(x, y, w, h, "#ffffff", colour, " stroke-width=\"2\" rx=\"5\"" + extra);
  svg.Rect(x, y, 6, h, colour, "", " rx=\"2\"");
  const double line_height = 13.0;
  double ty = y + (h - line_height * static_cast<double>(lines.size())) / 2 + 10;
  for (size_t i = 0; i < lines.size(); ++i, ty += line_height) {
    const size_t chars = static_cast<size_t>((w - 10) / 6.6);  // about 6.6 px per character at 11 px
    svg.Text(x + w / 2 + 3, ty, Clip(lines[i], chars), "middle", i == 0 ? " font-weight=\"bold\"" : "");
  }
}

bool GateComputed(const ActivityReport& report, uint32_t level, uint32_t gate) {
  for (const GateActivity& g : report.gates) {
    if (g.level == level && g.gate == gate) return g.computed;
  }
  return false;
}

constexpr double kMargin = 16, kLabelWidth = 64, kCell = 158, kBoxWidth = 146;

std::string StructureSvg(const ActivityReport& report) {
  const ModelShape& model = report.model;
  size_t columns = std::max<size_t>(1, model.tasks.size());
  for (size_t l = 0; l < model.level_experts.size(); ++l) {
    columns = std::max({columns, model.level_experts[l].size(), model.level_gates[l].size()});
  }
  const double width = 2 * kMargin + kLabelWidth + static_cast<double>(columns) * kCell;
  const double expert_h = 54, gate_h = 44, level_gap = 30, input_h = 40;
  const double level_h = expert_h + 34 + gate_h + level_gap;
  const double height = kMargin + input_h + 24 + static_cast<double>(model.level_experts.size()) * level_h + 54 + 24 +
                        (model.score.empty() ? 0 : 40) + kMargin;
  Svg svg(width, height, "structure", "The model's structure: levels of experts and gates, towers");
  const double x0 = kMargin + kLabelWidth;
  auto column_x = [&](size_t i, size_t count) {
    const double row_width = static_cast<double>(count) * kCell;
    return x0 + (static_cast<double>(columns) * kCell - row_width) / 2 + static_cast<double>(i) * kCell +
           (kCell - kBoxWidth) / 2;
  };
  double y = kMargin;
  Box(svg, x0, y, static_cast<double>(columns) * kCell - (kCell - kBoxWidth), input_h, "#555555",
      {"input row: " + std::to_string(model.input_width) + " floats",
       std::to_string(model.features.size()) + " features, " + Count(model.parameters) + " parameters in all"});
  y += input_h + 24;
  for (size_t l = 0; l < model.level_experts.size(); ++l) {
    const auto& experts = model.level_experts[l];
    const auto& gates = model.level_gates[l];
    svg.Text(kMargin, y + expert_h / 2 + 4, "level " + std::to_string(l + 1), "start", " font-weight=\"bold\"");
    std::vector<double> expert_centre(experts.size());
    for (size_t e = 0; e < experts.size(); ++e) {
      const double x = column_x(e, experts.size());
      expert_centre[e] = x + kBoxWidth / 2;
      const std::string owner =
          experts[e].input_stream < model.tasks.size() ? model.tasks[experts[e].input_stream].name : "shared";
      Box(svg, x, y, kBoxWidth, expert_h, Colour(model, experts[e].input_stream),
          {"expert " + std::to_string(e) + " \xc2\xb7 " + owner, Widths(experts[e].widths),
           Count(experts[e].parameters) + " parameters"},
          " class=\"expert\" data-level=\"" + std::to_string(l) + "\" data-expert=\"" + std::to_string(e) + "\"");
    }
    const double gate_y = y + expert_h + 34;
    for (size_t g = 0; g < gates.size(); ++g) {
      const double x = column_x(g, gates.size());
      for (uint32_t e : gates[g].experts) {
        if (e < experts.size()) {
          svg.Line(expert_centre[e], y + expert_h, x + kBoxWidth / 2, gate_y, Colour(model, gates[g].output_stream),
                   1.2, " stroke-opacity=\"0.55\"");
        }
      }
      const std::string target = gates[g].output_stream < model.tasks.size()
                                     ? model.tasks[gates[g].output_stream].name
                                     : "shared";
      Box(svg, x, gate_y, kBoxWidth, gate_h, Colour(model, gates[g].output_stream),
          {"gate \xe2\x86\x92 " + target,
           gates[g].widths.empty() ? "1 expert, weight 1"
                                   : std::to_string(gates[g].experts.size()) + " experts \xc2\xb7 " +
                                         Count(gates[g].parameters) + " par."},
          " class=\"gate\" data-level=\"" + std::to_string(l) + "\" data-gate=\"" + std::to_string(g) +
              "\" data-stream=\"" + std::to_string(gates[g].output_stream) + "\" data-shared=\"" +
              (gates[g].output_stream >= model.tasks.size() ? "1" : "0") + "\" data-experts=\"" +
              std::to_string(gates[g].experts.size()) + "\" data-computed=\"" +
              (GateComputed(report, static_cast<uint32_t>(l), static_cast<uint32_t>(g)) ? "1" : "0") + "\"");
    }
    y += level_h;
  }
  svg.Text(kMargin, y + 30, "towers", "start", " font-weight=\"bold\"");
  for (size_t t = 0; t < model.towers.size(); ++t) {
    const double x = column_x(t, model.towers.size());
    Box(svg, x, y, kBoxWidth, 54, Colour(model, static_cast<uint32_t>(t)),
        {"tower " + model.tasks[t].name,
         Widths(model.towers[t].widths) + (model.tasks[t].type == PLE_TASK_BINARY ? " \xc2\xb7 sigmoid" : ""),
         Count(model.towers[t].parameters) + " parameters"});
  }
  y += 54 + 24;
  if (!model.score.empty()) {
    Box(svg, x0, y, static_cast<double>(columns) * kCell - (kCell - kBoxWidth), 32, "#333333",
        {"score = " + model.score});
  }
  return svg.Finish();
}

// The expert-utilisation figure of one level: per computed gate a group of bars, one per
// expert it weighs: the mean weight, with a whisker from the 10th to the 90th percentile.
std::string UtilisationSvg(const ActivityReport& report, uint32_t level) {
  const ModelShape& model = report.model;
  std::vector<const GateActivity*> gates;
  for (const GateActivity& g : report.gates) {
    if (g.level == level && g.computed) gates.push_back(&g);
  }
  const double bar = 20, bar_gap = 4, group_gap = 30, plot_h = 180, axis_x = kMargin + 40, min_group = 104;
  auto group_width = [&](const GateActivity* g) {
    return std::max(min_group, static_cast<double>(g->experts.size()) * (bar + bar_gap) - bar_gap);
  };
  double plot_w = 0;
  for (const GateActivity* g : gates) plot_w += group_width(g) + group_gap;
  double legend_w = 0;
  for (uint32_t stream = 0; stream <= model.tasks.size(); ++stream) {
    const std::string name = stream < model.tasks.size() ? model.tasks[stream].name + "'s expert" : "shared expert";
    legend_w += 14 + 6.6 * static_cast<double>(name.size()) + 16;
  }
  const std::string heading =
      "level " + std::to_string(level + 1) + ": mean weight per expert (bar), 10th-90th percentile (whisker)";
  const double width = std::max({axis_x + plot_w + kMargin, axis_x + legend_w + kMargin,
                                 2 * kMargin + 6.8 * static_cast<double>(heading.size())});
  const double top = kMargin + 24, height = top + plot_h + 58 + kMargin;
  Svg svg(width, height, "utilisation-level-" + std::to_string(level + 1),
          "Level " + std::to_string(level + 1) + ": mean gate weight per expert");
  svg.Text(kMargin, kMargin + 6, heading, "start", " font-weight=\"bold\"");
  for (int tick = 0; tick <= 4; ++tick) {
    const double v = tick / 4.0, ty = top + plot_h * (1 - v);
    svg.Line(axis_x, ty, width - kMargin, ty, "#e0e0e0");
    svg.Text(axis_x - 6, ty + 4, Num(v, 2), "end");
  }
  svg.Line(axis_x, top, axis_x, top + plot_h, "#333333");
  double x = axis_x + group_gap / 2;
  for (const GateActivity* g : gates) {
    const double group_x = x, group_w = group_width(g);
    x += (group_w - (static_cast<double>(g->experts.size()) * (bar + bar_gap) - bar_gap)) / 2;  // centred
    for (size_t i = 0; i < g->experts.size(); ++i, x += bar + bar_gap) {
      const ExpertWeightStats& s = g->experts[i];
      const uint32_t owner = model.level_experts[level][s.expert].input_stream;
      const double h = plot_h * s.mean;
      svg.Rect(x, top + plot_h - h, bar, h, Colour(model, owner), "",
               " class=\"bar\" data-level=\"" + std::to_string(level) + "\" data-gate=\"" + std::to_string(g->gate) +
                   "\" data-gate-name=\"" + EscapeXml(g->name) + "\" data-stream=\"" +
                   std::to_string(model.level_gates[level][g->gate].output_stream) + "\" data-expert=\"" +
                   std::to_string(s.expert) +
                   "\" data-position=\"" + std::to_string(i) + "\" data-mean=\"" + Exact(s.mean) + "\" data-std=\"" +
                   Exact(s.stddev) + "\" data-p10=\"" + Exact(s.p10) + "\" data-p90=\"" + Exact(s.p90) +
                   "\" data-min=\"" + Exact(s.min) + "\" data-max=\"" + Exact(s.max) + "\"");
      const double cx = x + bar / 2;
      svg.Line(cx, top + plot_h * (1 - s.p90), cx, top + plot_h * (1 - s.p10), "#222222", 1.2, " class=\"whisker\"");
      svg.Line(cx - 4, top + plot_h * (1 - s.p90), cx + 4, top + plot_h * (1 - s.p90), "#222222");
      svg.Line(cx - 4, top + plot_h * (1 - s.p10), cx + 4, top + plot_h * (1 - s.p10), "#222222");
      svg.Text(cx, top + plot_h + 14, "e" + std::to_string(s.expert), "middle");
    }
    const std::string label = g->name.rfind("task ", 0) == 0 ? g->name.substr(5) : g->name;
    svg.Text(group_x + group_w / 2, top + plot_h + 32,
             Clip("\xe2\x86\x92 " + label, static_cast<size_t>(group_w / 6.8)), "middle", " font-weight=\"bold\"");
    x = group_x + group_w + group_gap;
  }
  // Legend: the experts' owners.
  double lx = axis_x;
  const double ly = top + plot_h + 50;
  for (uint32_t stream = 0; stream <= model.tasks.size(); ++stream) {
    svg.Rect(lx, ly - 9, 10, 10, Colour(model, stream), "");
    const std::string name = stream < model.tasks.size() ? model.tasks[stream].name + "'s expert" : "shared expert";
    svg.Text(lx + 14, ly, name);
    lx += 14 + 6.6 * static_cast<double>(name.size()) + 16;
  }
  return svg.Finish();
}

// A horizontal bar per row (layers, gates, tasks): relative L2 error against float32.
std::string QuantizationSvg(const QuantizationView& view) {
  std::vector<const LayerError*> rows;
  for (const LayerError& e : view.layers) rows.push_back(&e);
  for (const LayerError& e : view.gates) rows.push_back(&e);
  double largest = 0;
  for (const LayerError* e : rows) largest = std::max(largest, e->relative_l2);
  for (const TaskQuantizationReport& t : view.tasks) largest = std::max(largest, t.relative_l2);
  if (!(largest > 0)) largest = 1;
  const double row_h = 16, label_w = 300, plot_w = 360;
  const double top = kMargin + 24;
  const double height = top + row_h * static_cast<double>(rows.size() + view.tasks.size()) + 30 + kMargin;
  const double width = kMargin * 2 + label_w + plot_w + 80;
  Svg svg(width, height, "quantization", "Quantization error per layer and task output: relative L2 against float32");
  svg.Text(kMargin, kMargin + 6, "relative L2 error against float32 (||q - f|| / ||f|| over every candidate)", "start",
           " font-weight=\"bold\"");
  const double x0 = kMargin + label_w;
  double y = top;
  auto row = [&](const std::string& name, const std::string& kind, double value, double cosine, const char* colour) {
    svg.Text(x0 - 8, y + 12, Clip(name, 46), "end");
    const double w = plot_w * value / largest;
    svg.Rect(x0, y + 2, std::max(w, 0.5), row_h - 4, colour, "",
             " class=\"qbar\" data-kind=\"" + kind + "\" data-name=\"" + EscapeXml(name) + "\" data-relative-l2=\"" +
                 Exact(value) + "\"" + (std::isnan(cosine) ? "" : " data-cosine=\"" + Exact(cosine) + "\""));
    svg.Text(x0 + w + 6, y + 12, Num(value, 3));
    y += row_h;
  };
  for (const LayerError& e : view.layers) {
    row(e.name + " [" + e.precision + "]", "layer", e.relative_l2, e.cosine, e.precision == "int8" ? "#e15759" : e.precision == "f16" ? "#f28e2b" : "#4e79a7");
  }
  for (const LayerError& e : view.gates) row(e.name, "gate", e.relative_l2, e.cosine, "#76b7b2");
  for (const TaskQuantizationReport& t : view.tasks) row("task " + t.name + " output", "task", t.relative_l2, NAN, "#59a14f");
  svg.Line(x0, top, x0, y, "#333333");
  svg.Line(x0, y, x0 + plot_w, y, "#333333");
  svg.Text(x0, y + 14, "0", "middle");
  svg.Text(x0 + plot_w, y + 14, Num(largest, 3), "middle");
  return svg.Finish();
}

const char* kStyle = R"(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; } td.name, th.name { text-align: left; }
.warnings { background: #fff4e5; border-left: 4px solid #f28e2b; padding: 6px 14px; }
.ok { background: #eef7ee; border-left: 4px solid #59a14f; padding: 6px 14px; }
.figure { overflow-x: auto; margin: 8px 0; }
.note { color: #555; font-size: 13px; }
)";

}  // namespace

std::string EscapeXml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 (tab, newline, return are).
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

// The document's head, the title and the run's one-line summary.
void WriteHead(std::ostream& out, const ActivityReport& report) {
  const ModelShape& model = report.model;
  const std::string title = "PLE diagnostics: " + (model.name.empty() ? std::string("model") : model.name);
  out << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      << "<meta charset=\"utf-8\"/>\n<title>" << EscapeXml(title) << "</title>\n<style>" << kStyle
      << "</style>\n</head>\n<body>\n";
  out << "<h1>" << EscapeXml(title) << "</h1>\n<p>" << report.candidates << " candidates (" << report.requests
      << " requests) of <code>" << EscapeXml(report.data) << "</code>; " << model.precision << " weights, "
      << Count(model.parameters) << " parameters, " << model.file_bytes << " bytes; " << EscapeXml(report.kernel_path)
      << " kernels; runtime " << EscapeXml(ple_version_string()) << ".</p>\n";
}

// The warnings box (id "warnings"), or the box that says there are none.
void WriteWarnings(std::ostream& out, const ActivityReport& report) {
  if (report.warnings.empty()) {
    out << "<div class=\"ok\" id=\"warnings\"><p>No warnings: no gate collapses onto one expert (weight &gt; "
        << kCollapsedWeight << " on most candidates) and every expert gets a weight of at least " << kUnusedWeight
        << " somewhere.</p></div>\n";
    return;
  }
  out << "<div class=\"warnings\" id=\"warnings\"><p><strong>" << report.warnings.size() << " warning"
      << (report.warnings.size() > 1 ? "s" : "") << "</strong></p>\n<ul>\n";
  for (const std::string& w : report.warnings) out << "<li class=\"warning\">" << EscapeXml(w) << "</li>\n";
  out << "</ul></div>\n";
}

// Per level the utilisation figure and the gates that were not computed, then the table of
// every computed gate's weight statistics per expert (id "gate-weights").
void WriteUtilisation(std::ostream& out, const ActivityReport& report) {
  const ModelShape& model = report.model;
  out << "<h2>Expert utilisation</h2>\n<p class=\"note\">Per level, for every gate, the mean softmax weight it "
         "gives each expert over all candidates (bar) and the 10th to 90th percentile (whisker). A collapsed gate "
         "puts almost all of its weight on one expert; an unused expert gets almost none from every gate.</p>\n";
  for (uint32_t l = 0; l < model.level_experts.size(); ++l) {
    out << "<div class=\"figure\">\n" << UtilisationSvg(report, l) << "</div>\n";
    for (const GateActivity& g : report.gates) {
      if (g.level == l && !g.computed) {
        out << "<p class=\"note\">Level " << l + 1 << " gate \xe2\x86\x92 " << EscapeXml(g.name)
            << ": not computed (no task output depends on it), so it has no weights.</p>\n";
      }
    }
  }
  out << "<table id=\"gate-weights\">\n<tr><th>level</th><th class=\"name\">gate</th><th class=\"name\">expert</th>"
         "<th>mean</th><th>std</th><th>p10</th><th>p90</th><th>min</th><th>max</th><th>share &gt; 0.99</th></tr>\n";
  for (const GateActivity& g : report.gates) {
    if (!g.computed) continue;
    for (const ExpertWeightStats& s : g.experts) {
      const uint32_t owner = model.level_experts[g.level][s.expert].input_stream;
      out << "<tr><td>" << g.level + 1 << "</td><td class=\"name\">\xe2\x86\x92 " << EscapeXml(g.name)
          << "</td><td class=\"name\">" << s.expert << " ("
          << EscapeXml(owner < model.tasks.size() ? model.tasks[owner].name : "shared") << ")</td><td>"
          << Num(s.mean, 4) << "</td><td>" << Num(s.stddev, 3) << "</td><td>" << Num(s.p10, 3) << "</td><td>"
          << Num(s.p90, 3) << "</td><td>" << Num(s.min, 3) << "</td><td>" << Num(s.max, 3) << "</td><td>"
          << Num(100 * s.share_collapsed, 3) << "%</td></tr>\n";
    }
  }
  out << "</table>\n";
}

// The quantization section: the figure and the tables of layer errors (id "layer-errors") and
// task errors (id "task-errors"), or a note on how to get them.
void WriteQuantization(std::ostream& out, const ActivityReport& report) {
  out << "<h2>Quantization</h2>\n";
  if (!report.has_quantization) {
    out << "<p class=\"note\" id=\"no-quantization\">Not compared: give the float32 conversion of this model "
           "(<code>ple-inspect MODEL --activity DATA --float-model F32.ple</code>) to see each layer's error.</p>\n";
    return;
  }
  const QuantizationView& view = report.quantization;
  out << "<p>Against the float32 model <code>" << EscapeXml(view.float_model)
      << "</code> on the same candidates. Relative L2: ||q - f|| / ||f|| of a layer's outputs over every "
         "candidate; cosine: of the same two vectors.</p>\n<div class=\"figure\">\n"
      << QuantizationSvg(view) << "</div>\n";
  out << "<table id=\"layer-errors\">\n<tr><th class=\"name\">layer</th><th class=\"name\">precision</th>"
         "<th>relative L2</th><th>cosine</th><th>max abs</th></tr>\n";
  auto error_row = [&](const LayerError& e) {
    out << "<tr><td class=\"name\">" << EscapeXml(e.name) << "</td><td class=\"name\">" << EscapeXml(e.precision)
        << "</td><td>" << Num(e.relative_l2, 3) << "</td><td>" << Num(e.cosine, 7) << "</td><td>"
        << Num(e.max_abs, 3) << "</td></tr>\n";
  };
  for (const LayerError& e : view.layers) error_row(e);
  for (const LayerError& e : view.gates) error_row(e);
  out << "</table>\n<table id=\"task-errors\">\n<tr><th class=\"name\">task</th><th>max abs</th><th>mean abs</th>"
         "<th>relative L2</th><th>labelled</th><th>AUC f32</th><th>AUC quantized</th><th>AUC difference</th></tr>\n";
  for (const TaskQuantizationReport& t : view.tasks) {
    const bool auc = !std::isnan(t.auc_float32) && !std::isnan(t.auc_quantized);
    out << "<tr><td class=\"name\">" << EscapeXml(t.name) << "</td><td>" << Num(t.max_abs, 3) << "</td><td>"
        << Num(t.mean_abs, 3) << "</td><td>" << Num(t.relative_l2, 3) << "</td><td>" << t.labelled << "</td><td>"
        << (auc ? Num(t.auc_float32, 5) : "-") << "</td><td>" << (auc ? Num(t.auc_quantized, 5) : "-")
        << "</td><td>" << (auc ? Num(t.auc_quantized - t.auc_float32, 3) : "-") << "</td></tr>\n";
  }
  out << "</table>\n";
  out << "<p>Ranking: each request's candidates ordered by the quantized model against the float32 model's order "
         "(ties: the lower index first); top-k overlap over requests of more than k candidates; NDCG with the "
         "float32 scores as gains.</p>\n<table id=\"ranking\">\n<tr><th class=\"name\">ranked by</th><th>requests</th>"
         "<th>top-1 kept</th><th>top-3</th><th>top-5</th><th>top-10</th><th>worst top-5</th><th>Kendall tau-b</th>"
         "<th>worst tau-b</th><th>NDCG</th><th>worst NDCG</th></tr>\n";
  for (const RankingSummary& r : view.rankings) {
    out << "<tr><td class=\"name\">" << EscapeXml(r.ranked_by) << "</td><td>" << r.requests << "</td><td>"
        << Num(r.top1, 4) << "</td><td>" << Num(r.top3, 4) << "</td><td>" << Num(r.top5, 4) << "</td><td>"
        << Num(r.top10, 4) << "</td><td>" << Num(r.worst_top5, 3) << "</td><td>" << Num(r.tau_b, 5) << "</td><td>"
        << Num(r.worst_tau_b, 4) << "</td><td>" << Num(r.ndcg, 6) << "</td><td>" << Num(r.worst_ndcg, 5)
        << "</td></tr>\n";
  }
  out << "</table>\n";
}

}  // namespace

std::string RenderHtmlReport(const ActivityReport& report) {
  std::ostringstream out;
  WriteHead(out, report);
  WriteWarnings(out, report);
  out << "<h2>Structure</h2>\n<div class=\"figure\">\n" << StructureSvg(report) << "</div>\n";
  out << "<p class=\"note\">Widths are floats per layer (input first). Colours: a task's own experts and gates take "
         "the task's colour, shared ones grey. Lines join each gate to the experts it weighs.</p>\n";
  WriteUtilisation(out, report);
  WriteQuantization(out, report);
  out << "<p class=\"note\">Written by ple-inspect --activity (docs/diagnostics.md).</p>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace tools
}  // namespace ple
