/* Ranks three candidate videos for one user with the example feed model (examples/feed):
 *   rank_feed MODEL.ple        (built as the target `rank_feed_example`) */
#include <ple/ple.h>
#include <stdio.h>

static int fail(void) {
  fprintf(stderr, "error: %s\n", ple_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.ple\n", argv[0]);
    return 2;
  }
  ple_model* model = NULL;
  ple_session* session = NULL;
  ple_request* request = NULL;
  if (ple_model_open_file(argv[1], &model) != PLE_OK || ple_session_create(model, NULL, &session) != PLE_OK ||
      ple_request_create(model, &request) != PLE_OK) {
    int status = fail();
    ple_session_close(&session);
    ple_model_close(&model);
    return status;
  }

  /* The user: set once, reused by every run against this request (a feed re-ranks per scroll). */
  const int64_t user_id = 168, hour = 11;
  const int64_t history[] = {368, 365, 260, 376, 26};
  const uint32_t history_length = 5;
  const float activity = 3.371f;
  const ple_feature_values user[] = {
      {"user_id", NULL, 0, &user_id, 1, NULL},
      {"history", NULL, 0, history, 5, &history_length},
      {"hour", NULL, 0, &hour, 1, NULL},
      {"user_activity", &activity, 1, NULL, 0, NULL},
  };

  /* The candidates: one value (or row) per candidate, feature by feature. */
  enum { kCandidates = 3, kTasks = 3 };
  const int64_t video_id[kCandidates] = {233, 36, 5};
  const int64_t category[kCandidates] = {5, 3, 1};
  const float quality[kCandidates * 2] = {0.471f, 0.56f, 0.693f, 0.264f, 0.9f, 0.8f};
  const float video_len[kCandidates] = {6.2f, 53.1f, 120.0f};
  const ple_feature_values items[] = {
      {"video_id", NULL, 0, video_id, kCandidates, NULL},
      {"video_category", NULL, 0, category, kCandidates, NULL},
      {"video_quality", quality, kCandidates * 2, NULL, 0, NULL},
      {"video_len", video_len, kCandidates, NULL, 0, NULL},
  };

  float outputs[kCandidates * kTasks], scores[kCandidates];
  uint32_t ranked[kCandidates];
  int status = 0;
  if (ple_request_set(request, user, 4) != PLE_OK ||
      ple_session_run_features(session, request, items, 4, kCandidates, outputs, kCandidates * kTasks, scores,
                               kCandidates) != PLE_OK ||
      ple_rank_top_k(scores, kCandidates, kCandidates, ranked) != PLE_OK) {
    status = fail();
  } else {
    for (int i = 0; i < kCandidates; ++i) {
      const uint32_t c = ranked[i];
      printf("rank %d: video %lld score %.6f (%s %.4f, %s %.4f, %s %.4f)\n", i + 1, (long long)video_id[c], scores[c],
             ple_model_task_name(model, 0), outputs[c * kTasks], ple_model_task_name(model, 1),
             outputs[c * kTasks + 1], ple_model_task_name(model, 2), outputs[c * kTasks + 2]);
    }
  }
  ple_request_close(&request);
  ple_session_close(&session);
  ple_model_close(&model);
  return status;
}
