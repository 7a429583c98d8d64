// Opens a model through the C++ wrapper (static library), runs one session and prints its
// kernel path (install tests).
#include <cstdio>
#include <ple/ple.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    ple::Model model = ple::Model::OpenFile(argv[1]);
    ple::Session session(model);
    std::printf("C++: %zu features, %zu levels, kernel path %s\n", model.features().size(), model.levels().size(),
                ple_kernel_path_name(session.info().kernel_path));
  } catch (const ple::Error& e) {
    std::fprintf(stderr, "consumer_cpp: %s\n", e.what());
    return 1;
  }
  return 0;
}
