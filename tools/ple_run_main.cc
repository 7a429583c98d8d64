// ple-run: scores the candidates of an input file with a model and prints per-task outputs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "ple/ple.hpp"
#include "request_io.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ple-run: score candidates with a PLE model file and print each task's output per candidate.\n"
      "Input (docs/ple-run.md): JSON lines, one object per candidate mapping every model input to its\n"
      "values, or CSV with a header (name, or name.0 .. name.{w-1} for a width-w input)."};
  std::string model_path, input_path, input_format = "auto", output_path = "-", output_format = "csv",
                                      kernels = "auto";
  uint32_t max_batch = 256;
  bool show_info = false;
  app.add_option("model", model_path, "model file (.ple)")->required();
  app.add_option("--input,-i", input_path, "candidates file, or - for standard input")->required();
  app.add_option("--format,-f", input_format, "input format: auto (by extension: .csv is CSV), jsonl or csv")
      ->check(CLI::IsMember({"auto", "jsonl", "csv"}));
  app.add_option("--output,-o", output_path, "where to write the outputs (default: standard output)");
  app.add_option("--output-format", output_format, "csv or json (JSON lines)")->check(CLI::IsMember({"csv", "json"}));
  app.add_option("--kernels,-k", kernels, "kernel path: auto, reference or xnnpack")
      ->check(CLI::IsMember({"auto", "reference", "xnnpack"}));
  app.add_option("--max-batch", max_batch, "candidates per run (the session's prepared maximum)")
      ->check(CLI::Range(1u, 1u << 20));
  app.add_flag("--info", show_info, "print the session's kernel path and memory to standard error");
  CLI11_PARSE(app, argc, argv);

  try {
    ple::Model model = ple::Model::OpenFile(model_path);
    const auto inputs = model.inputs();
    const auto tasks = model.tasks();

    std::ifstream file;
    std::istream* in = &std::cin;
    if (input_path != "-") {
      file.open(input_path);
      if (!file) throw std::runtime_error("cannot open input file '" + input_path + "'");
      in = &file;
    }
    const bool csv = input_format == "csv" ||
                     (input_format == "auto" && input_path.size() > 4 &&
                      input_path.compare(input_path.size() - 4, 4, ".csv") == 0);
    std::vector<float> rows;
    try {
      rows = csv ? ple::tools::ReadCsv(*in, inputs) : ple::tools::ReadJsonLines(*in, inputs);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("input '" + input_path + "': " + e.what());
    }
    const size_t row_width = model.row_width();
    const size_t candidates = rows.size() / row_width;
    if (candidates == 0) throw std::runtime_error("input '" + input_path + "' has no candidates");

    ple::SessionOptions options;
    options.max_batch = static_cast<uint32_t>(std::min<size_t>(max_batch, candidates));
    options.kernel_path = kernels == "reference" ? PLE_KERNELS_REFERENCE
                          : kernels == "xnnpack" ? PLE_KERNELS_XNNPACK
                                                 : PLE_KERNELS_AUTO;
    ple::Session session(model, options);
    if (show_info) {
      const ple_session_info info = session.info();
      std::fprintf(stderr,
                   "ple-run: %zu candidates; session: kernel path %s, max_batch %u, tile_rows %u, arena %zu bytes, "
                   "packed weights %zu bytes (predicted total before creation: %zu bytes)\n",
                   candidates, info.kernel_path == PLE_KERNELS_XNNPACK ? "xnnpack" : "reference", info.max_batch,
                   info.tile_rows, info.arena_bytes, info.packed_weight_bytes,
                   ple::Session::MemoryBytes(model, options));
    }
    std::vector<float> outputs(candidates * tasks.size());
    for (size_t first = 0; first < candidates; first += options.max_batch) {
      const size_t count = std::min<size_t>(options.max_batch, candidates - first);
      session.Run(rows.data() + first * row_width, count, outputs.data() + first * tasks.size());
    }

    std::ofstream out_file;
    std::ostream* out = &std::cout;
    if (output_path != "-") {
      out_file.open(output_path);
      if (!out_file) throw std::runtime_error("cannot open output file '" + output_path + "'");
      out = &out_file;
    }
    if (output_format == "csv") {
      ple::tools::WriteCsv(*out, tasks, outputs);
    } else {
      ple::tools::WriteJsonLines(*out, tasks, outputs);
    }
    out->flush();
    if (!*out) throw std::runtime_error("cannot write the outputs to '" + output_path + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-run: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
