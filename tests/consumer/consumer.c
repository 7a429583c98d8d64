/* Opens a model through the C API and prints the versions and its tasks (install tests). */
#include <stdio.h>

#include <ple/ple.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer_c MODEL\n");
    return 2;
  }
  ple_model* model = NULL;
  if (ple_model_open_file(argv[1], &model) != PLE_OK) {
    fprintf(stderr, "consumer_c: %s\n", ple_last_error());
    return 1;
  }
  printf("C: library %s, C ABI %s (header %d.%d), schema %s, %zu tasks:", ple_version_string(),
         ple_abi_version_string(), PLE_ABI_VERSION, PLE_ABI_VERSION_MINOR, ple_schema_version_string(),
         ple_model_num_tasks(model));
  for (size_t t = 0; t < ple_model_num_tasks(model); ++t) printf(" %s", ple_model_task_name(model, t));
  printf("\n");
  ple_model_close(&model);
  return 0;
}
