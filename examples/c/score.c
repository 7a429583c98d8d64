/* Scores two candidates with a model file and prints every task's output.
 *   score MODEL.ple        (build: part of the project, target `score_example`) */
#include <ple/ple.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  ple_model* model = NULL;
  ple_session* session = NULL;
  if (argc != 2) { fprintf(stderr, "usage: %s MODEL.ple\n", argv[0]); return 2; }
  if (ple_model_open_file(argv[1], &model) != PLE_OK ||
      ple_session_create(model, NULL, &session) != PLE_OK) {
    fprintf(stderr, "error: %s\n", ple_last_error());
    ple_model_close(&model);
    return 1;
  }
  const size_t n = 2, width = ple_model_row_width(model), tasks = ple_model_num_tasks(model);
  float* rows = calloc(n * width, sizeof(float));    /* candidate rows: the inputs, concatenated */
  float* scores = calloc(n * tasks, sizeof(float));  /* n x tasks, row-major */
  for (size_t i = 0; i < n * width; ++i) rows[i] = (float)(i % 7) / 7.0f;
  if (ple_session_run(session, rows, n * width, n, scores, n * tasks) == PLE_OK) {
    for (size_t c = 0; c < n; ++c)
      for (size_t t = 0; t < tasks; ++t)
        printf("candidate %zu %s %.6f\n", c, ple_model_task_name(model, t), scores[c * tasks + t]);
  } else {
    fprintf(stderr, "error: %s\n", ple_last_error());
  }
  free(rows);
  free(scores);
  ple_session_close(&session);
  ple_model_close(&model);
  return 0;
}
