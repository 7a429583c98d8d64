/* Kernel paths side by side in one WebAssembly process (node): the same model, batch and rows on
 * each path, rounds interleaved (path order rotating), the median of each path's per-round
 * medians, and each path's ratio to the first path's time per round. A C API program so that
 * it builds with emcc against the wasm libple.a (bench/wasm_paths.sh).
 *
 *   node wasm_paths.js MODEL.ple BATCH RUNS ROUNDS PATH [PATH ...]
 *
 * Rows are uniform random floats in [0, 1) from a fixed seed (every feature dense: the model must
 * be dense-only, as bench-s and bench-m-dense are). Times are microseconds per run of BATCH
 * candidates, from clock_gettime(CLOCK_MONOTONIC) (performance.now() under node). */
#include <ple/ple.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s MODEL.ple BATCH RUNS ROUNDS PATH [PATH ...]\n", argv[0]);
    return 2;
  }
  const int batch = atoi(argv[2]), runs = atoi(argv[3]), rounds = atoi(argv[4]), paths = argc - 5;
  if (batch < 1 || runs < 1 || rounds < 1 || paths > 8) {
    fprintf(stderr, "wasm_paths: BATCH, RUNS and ROUNDS must be at least 1, at most 8 paths\n");
    return 2;
  }
  ple_model* model = NULL;
  if (ple_model_open_file(argv[1], &model) != PLE_OK) {
    fprintf(stderr, "wasm_paths: %s\n", ple_last_error());
    return 1;
  }
  const size_t width = ple_model_row_width(model), tasks = ple_model_num_tasks(model);
  float* rows = malloc(sizeof(float) * width * (size_t)batch);
  float* outputs = malloc(sizeof(float) * tasks * (size_t)batch);
  unsigned seed = 12345;
  for (size_t i = 0; i < width * (size_t)batch; ++i) {
    seed = seed * 1103515245u + 12345u;
    rows[i] = (float)((seed >> 8) & 0xffff) / 65536.0f;
  }
  ple_session* sessions[8];
  for (int p = 0; p < paths; ++p) {
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = (uint32_t)batch;
    if (ple_kernel_path_from_name(argv[5 + p], &options.kernel_path) != PLE_OK ||
        ple_session_create(model, &options, &sessions[p]) != PLE_OK) {
      fprintf(stderr, "wasm_paths: %s: %s\n", argv[5 + p], ple_last_error());
      return 1;
    }
    ple_session_run(sessions[p], rows, width * (size_t)batch, (size_t)batch, outputs, tasks * (size_t)batch);
  }
  double* samples = malloc(sizeof(double) * (size_t)runs);
  double* per_round = malloc(sizeof(double) * (size_t)rounds * (size_t)paths);
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < paths; ++i) {
      const int p = (i + round) % paths;
      for (int run = 0; run < runs; ++run) {
        const double start = now_us();
        if (ple_session_run(sessions[p], rows, width * (size_t)batch, (size_t)batch, outputs,
                            tasks * (size_t)batch) != PLE_OK) {
          fprintf(stderr, "wasm_paths: %s: %s\n", argv[5 + p], ple_last_error());
          return 1;
        }
        samples[run] = now_us() - start;
      }
      per_round[p * rounds + round] = median(samples, runs);
    }
  }
  printf("%s, batch %d, %d runs x %d rounds (median of round medians; ratio: the first path's time over this one's, median of rounds)\n",
         argv[1], batch, runs, rounds);
  double* ratios = malloc(sizeof(double) * (size_t)rounds);
  for (int p = 0; p < paths; ++p) {
    for (int round = 0; round < rounds; ++round) ratios[round] = per_round[round] / per_round[p * rounds + round];
    double times[64];
    const int n = rounds < 64 ? rounds : 64;
    memcpy(times, per_round + p * rounds, sizeof(double) * (size_t)n);
    printf("  %-10s %10.1f us   %.2fx\n", argv[5 + p], median(times, n), median(ratios, rounds));
    ple_session_close(&sessions[p]);
  }
  ple_model_close(&model);
  return 0;
}
