// JNI bindings of the dev.ple Java API over the C API (runtime/include/ple/ple.h).
// Handles cross as jlong. Every failed C call becomes a dev.ple.PleException carrying the
// status and the library's message. Arrays are read for the duration of a call; direct
// buffers are used in place.
#include <jni.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ple/ple.h"

namespace {

struct Ids {
  jclass exception = nullptr;             // dev.ple.PleException (global reference)
  jmethodID exception_init = nullptr;
  jfieldID fv_name, fv_floats, fv_float_buffer, fv_ids, fv_id_buffer, fv_lengths;
  jmethodID buffer_position, buffer_remaining;
  jfieldID fd_descriptor;
} g;

void ThrowStatus(JNIEnv* env, ple_status status) {
  const std::string message = std::string(ple_status_string(status)) + ": " + ple_last_error();
  jstring text = env->NewStringUTF(message.c_str());
  jobject exception = env->NewObject(g.exception, g.exception_init, static_cast<jint>(status), text);
  env->Throw(static_cast<jthrowable>(exception));
}

void ThrowIllegalArgument(JNIEnv* env, const char* message) {
  env->ThrowNew(env->FindClass("java/lang/IllegalArgumentException"), message);
}

template <typename T>
T* FromHandle(jlong handle) {
  return reinterpret_cast<T*>(static_cast<intptr_t>(handle));
}

template <typename T>
jlong ToHandle(T* pointer) {
  return static_cast<jlong>(reinterpret_cast<intptr_t>(pointer));
}

// The C view of a FeatureValues[] for one call, releasing what it borrowed from the JVM.
class FeatureBatch {
 public:
  FeatureBatch(JNIEnv* env, jobjectArray array) : env_(env) {
    const jsize count = array ? env->GetArrayLength(array) : 0;
    values_.resize(count);
    for (jsize i = 0; i < count; ++i) {
      jobject item = env->GetObjectArrayElement(array, i);
      if (item == nullptr) {
        ThrowIllegalArgument(env, "a FeatureValues is null");
        return;
      }
      ple_feature_values& v = values_[i];
      v = ple_feature_values{nullptr, nullptr, 0, nullptr, 0, nullptr};
      auto name = static_cast<jstring>(env->GetObjectField(item, g.fv_name));
      names_.push_back({name, env->GetStringUTFChars(name, nullptr)});
      v.name = names_.back().second;
      if (auto floats = static_cast<jfloatArray>(env->GetObjectField(item, g.fv_floats))) {
        v.values = env->GetFloatArrayElements(floats, nullptr);
        v.num_values = static_cast<size_t>(env->GetArrayLength(floats));
        float_arrays_.push_back({floats, const_cast<float*>(v.values)});
      } else if (jobject buffer = env->GetObjectField(item, g.fv_float_buffer)) {
        v.values = static_cast<const float*>(env->GetDirectBufferAddress(buffer)) +
                   env->CallIntMethod(buffer, g.buffer_position);
        v.num_values = static_cast<size_t>(env->CallIntMethod(buffer, g.buffer_remaining));
      }
      if (auto ids = static_cast<jlongArray>(env->GetObjectField(item, g.fv_ids))) {
        v.ids = reinterpret_cast<const int64_t*>(env->GetLongArrayElements(ids, nullptr));
        v.num_ids = static_cast<size_t>(env->GetArrayLength(ids));
        long_arrays_.push_back({ids, reinterpret_cast<jlong*>(const_cast<int64_t*>(v.ids))});
      } else if (jobject buffer = env->GetObjectField(item, g.fv_id_buffer)) {
        v.ids = static_cast<const int64_t*>(env->GetDirectBufferAddress(buffer)) +
                env->CallIntMethod(buffer, g.buffer_position);
        v.num_ids = static_cast<size_t>(env->CallIntMethod(buffer, g.buffer_remaining));
      }
      if (auto lengths = static_cast<jintArray>(env->GetObjectField(item, g.fv_lengths))) {
        // Java int[] lengths, checked non-negative in FeatureValues: the same bits as uint32.
        v.lengths = reinterpret_cast<const uint32_t*>(env->GetIntArrayElements(lengths, nullptr));
        int_arrays_.push_back({lengths, reinterpret_cast<jint*>(const_cast<uint32_t*>(v.lengths))});
      }
    }
  }
  ~FeatureBatch() {
    for (auto& [array, data] : float_arrays_) env_->ReleaseFloatArrayElements(array, data, JNI_ABORT);
    for (auto& [array, data] : long_arrays_) env_->ReleaseLongArrayElements(array, data, JNI_ABORT);
    for (auto& [array, data] : int_arrays_) env_->ReleaseIntArrayElements(array, data, JNI_ABORT);
    for (auto& [string, chars] : names_) env_->ReleaseStringUTFChars(string, chars);
  }
  FeatureBatch(const FeatureBatch&) = delete;
  FeatureBatch& operator=(const FeatureBatch&) = delete;

  const ple_feature_values* data() const { return values_.data(); }
  size_t size() const { return values_.size(); }

 private:
  JNIEnv* env_;
  std::vector<ple_feature_values> values_;
  std::vector<std::pair<jstring, const char*>> names_;
  std::vector<std::pair<jfloatArray, float*>> float_arrays_;
  std::vector<std::pair<jlongArray, jlong*>> long_arrays_;
  std::vector<std::pair<jintArray, jint*>> int_arrays_;
};

jobjectArray Strings(JNIEnv* env, size_t count, const char* (*get)(const ple_model*, size_t), const ple_model* model) {
  jobjectArray array = env->NewObjectArray(static_cast<jsize>(count), env->FindClass("java/lang/String"), nullptr);
  for (size_t i = 0; i < count; ++i) env->SetObjectArrayElement(array, static_cast<jsize>(i), env->NewStringUTF(get(model, i)));
  return array;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  jclass exception = env->FindClass("dev/ple/PleException");
  jclass values = env->FindClass("dev/ple/FeatureValues");
  jclass buffer = env->FindClass("java/nio/Buffer");
  jclass fd = env->FindClass("java/io/FileDescriptor");
  if (exception == nullptr || values == nullptr || buffer == nullptr || fd == nullptr) return JNI_ERR;
  g.exception = static_cast<jclass>(env->NewGlobalRef(exception));
  g.exception_init = env->GetMethodID(exception, "<init>", "(ILjava/lang/String;)V");
  g.fv_name = env->GetFieldID(values, "name", "Ljava/lang/String;");
  g.fv_floats = env->GetFieldID(values, "floats", "[F");
  g.fv_float_buffer = env->GetFieldID(values, "floatBuffer", "Ljava/nio/FloatBuffer;");
  g.fv_ids = env->GetFieldID(values, "ids", "[J");
  g.fv_id_buffer = env->GetFieldID(values, "idBuffer", "Ljava/nio/LongBuffer;");
  g.fv_lengths = env->GetFieldID(values, "lengths", "[I");
  g.buffer_position = env->GetMethodID(buffer, "position", "()I");
  g.buffer_remaining = env->GetMethodID(buffer, "remaining", "()I");
  if (env->ExceptionCheck()) return JNI_ERR;
  g.fd_descriptor = env->GetFieldID(fd, "descriptor", "I");  // Android
  if (g.fd_descriptor == nullptr) {
    env->ExceptionClear();
    g.fd_descriptor = env->GetFieldID(fd, "fd", "I");  // OpenJDK
  }
  if (env->ExceptionCheck()) return JNI_ERR;
  return JNI_VERSION_1_6;
}

// ---- Model ----

JNIEXPORT jlong JNICALL Java_dev_ple_Model_nativeOpenFile(JNIEnv* env, jclass, jstring path) {
  const char* chars = env->GetStringUTFChars(path, nullptr);
  ple_model* model = nullptr;
  const ple_status status = ple_model_open_file(chars, &model);
  env->ReleaseStringUTFChars(path, chars);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(model);
}

JNIEXPORT jlong JNICALL Java_dev_ple_Model_nativeOpenDirectBuffer(JNIEnv* env, jclass, jobject buffer, jint position,
                                                                   jint length) {
  auto* address = static_cast<const uint8_t*>(env->GetDirectBufferAddress(buffer));
  if (address == nullptr) {
    ThrowIllegalArgument(env, "not a direct buffer");
    return 0;
  }
  ple_model* model = nullptr;
  const ple_status status = ple_model_open_buffer(address + position, static_cast<size_t>(length), &model);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(model);
}

JNIEXPORT jlong JNICALL Java_dev_ple_Model_nativeOpenBytes(JNIEnv* env, jclass, jbyteArray bytes) {
  jbyte* data = env->GetByteArrayElements(bytes, nullptr);
  ple_model* model = nullptr;  // the JVM may move the array: always copy
  const ple_status status = ple_model_open_buffer_copy(data, static_cast<size_t>(env->GetArrayLength(bytes)), &model);
  env->ReleaseByteArrayElements(bytes, data, JNI_ABORT);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(model);
}

JNIEXPORT jlong JNICALL Java_dev_ple_Model_nativeOpenFd(JNIEnv* env, jclass, jobject fd, jlong offset, jlong length) {
  if (offset < 0 || length < 0) {
    ThrowIllegalArgument(env, "offset and length must be >= 0");
    return 0;
  }
  ple_model* model = nullptr;
  const ple_status status = ple_model_open_fd(env->GetIntField(fd, g.fd_descriptor), static_cast<uint64_t>(offset),
                                              static_cast<uint64_t>(length), &model);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(model);
}

JNIEXPORT jboolean JNICALL Java_dev_ple_Model_nativeIsCopy(JNIEnv*, jclass, jlong handle) {
  return ple_model_is_copy(FromHandle<ple_model>(handle)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jobjectArray JNICALL Java_dev_ple_Model_nativeTaskNames(JNIEnv* env, jclass, jlong handle) {
  const ple_model* model = FromHandle<ple_model>(handle);
  return Strings(env, ple_model_num_tasks(model), ple_model_task_name, model);
}

JNIEXPORT jobjectArray JNICALL Java_dev_ple_Model_nativeFeatureNames(JNIEnv* env, jclass, jlong handle) {
  const ple_model* model = FromHandle<ple_model>(handle);
  return Strings(env, ple_model_num_features(model), ple_model_feature_name, model);
}

JNIEXPORT void JNICALL Java_dev_ple_Model_nativeClose(JNIEnv*, jclass, jlong handle) {
  ple_model* model = FromHandle<ple_model>(handle);
  ple_model_close(&model);
}

// ---- Request ----

JNIEXPORT jlong JNICALL Java_dev_ple_Request_nativeCreate(JNIEnv* env, jclass, jlong model) {
  ple_request* request = nullptr;
  const ple_status status = ple_request_create(FromHandle<ple_model>(model), &request);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(request);
}

JNIEXPORT void JNICALL Java_dev_ple_Request_nativeSet(JNIEnv* env, jclass, jlong handle, jobjectArray values) {
  FeatureBatch batch(env, values);
  if (env->ExceptionCheck()) return;
  const ple_status status = ple_request_set(FromHandle<ple_request>(handle), batch.data(), batch.size());
  if (status != PLE_OK) ThrowStatus(env, status);
}

JNIEXPORT void JNICALL Java_dev_ple_Request_nativeClose(JNIEnv*, jclass, jlong handle) {
  ple_request* request = FromHandle<ple_request>(handle);
  ple_request_close(&request);
}

// ---- Session ----

JNIEXPORT jlong JNICALL Java_dev_ple_Session_nativeCreate(JNIEnv* env, jclass, jlong model, jint max_batch,
                                                          jint kernel_path, jint num_threads, jint cpus,
                                                          jlong cpu_mask) {
  if (max_batch <= 0) {
    ThrowIllegalArgument(env, "maxBatch must be at least 1");
    return 0;
  }
  if (num_threads <= 0) {
    ThrowIllegalArgument(env, "numThreads must be at least 1");
    return 0;
  }
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = static_cast<uint32_t>(max_batch);
  options.kernel_path = static_cast<ple_kernel_path>(kernel_path);
  options.num_threads = static_cast<uint32_t>(num_threads);
  options.cpus = static_cast<ple_cpu_selection>(cpus);  // the C API checks the value
  options.cpu_mask = static_cast<uint64_t>(cpu_mask);
  ple_session* session = nullptr;
  const ple_status status = ple_session_create(FromHandle<ple_model>(model), &options, &session);
  if (status != PLE_OK) ThrowStatus(env, status);
  return ToHandle(session);
}

JNIEXPORT void JNICALL Java_dev_ple_Session_nativeRun(JNIEnv* env, jclass, jlong handle, jlong request,
                                                      jobjectArray candidates, jint num_candidates,
                                                      jfloatArray outputs, jobject output_buffer, jfloatArray scores,
                                                      jobject score_buffer) {
  if (num_candidates < 0) {
    ThrowIllegalArgument(env, "numCandidates must be >= 0");
    return;
  }
  FeatureBatch batch(env, candidates);
  if (env->ExceptionCheck()) return;
  float* out = nullptr;
  size_t out_count = 0;
  float* score = nullptr;
  size_t score_count = 0;
  if (outputs != nullptr) {
    out = env->GetFloatArrayElements(outputs, nullptr);
    out_count = static_cast<size_t>(env->GetArrayLength(outputs));
  } else {
    out = static_cast<float*>(env->GetDirectBufferAddress(output_buffer)) + env->CallIntMethod(output_buffer, g.buffer_position);
    out_count = static_cast<size_t>(env->CallIntMethod(output_buffer, g.buffer_remaining));
  }
  if (scores != nullptr) {
    score = env->GetFloatArrayElements(scores, nullptr);
    score_count = static_cast<size_t>(env->GetArrayLength(scores));
  } else if (score_buffer != nullptr) {
    score = static_cast<float*>(env->GetDirectBufferAddress(score_buffer)) + env->CallIntMethod(score_buffer, g.buffer_position);
    score_count = static_cast<size_t>(env->CallIntMethod(score_buffer, g.buffer_remaining));
  }
  const ple_status status =
      ple_session_run_features(FromHandle<ple_session>(handle), FromHandle<ple_request>(request), batch.data(),
                               batch.size(), static_cast<size_t>(num_candidates), out, out_count, score, score_count);
  if (outputs != nullptr) env->ReleaseFloatArrayElements(outputs, out, status == PLE_OK ? 0 : JNI_ABORT);
  if (scores != nullptr) env->ReleaseFloatArrayElements(scores, score, status == PLE_OK ? 0 : JNI_ABORT);
  if (status != PLE_OK) ThrowStatus(env, status);
}

JNIEXPORT jintArray JNICALL Java_dev_ple_Session_nativeTopK(JNIEnv* env, jclass, jfloatArray scores, jint k) {
  if (k < 0) {
    ThrowIllegalArgument(env, "k must be >= 0");
    return nullptr;
  }
  const jsize count = env->GetArrayLength(scores);
  const jsize keep = k < count ? k : count;
  std::vector<uint32_t> indices(static_cast<size_t>(keep));
  jfloat* data = env->GetFloatArrayElements(scores, nullptr);
  const ple_status status = ple_rank_top_k(data, static_cast<size_t>(count), static_cast<size_t>(keep), indices.data());
  env->ReleaseFloatArrayElements(scores, data, JNI_ABORT);
  if (status != PLE_OK) {
    ThrowStatus(env, status);
    return nullptr;
  }
  jintArray result = env->NewIntArray(keep);
  env->SetIntArrayRegion(result, 0, keep, reinterpret_cast<const jint*>(indices.data()));
  return result;
}

JNIEXPORT jlong JNICALL Java_dev_ple_Session_nativeWorkerCpuMask(JNIEnv* env, jclass, jlong handle) {
  ple_session_info info{};
  info.struct_size = sizeof(info);
  const ple_status status = ple_session_get_info(FromHandle<ple_session>(handle), &info);
  if (status != PLE_OK) ThrowStatus(env, status);
  return static_cast<jlong>(info.worker_cpu_mask);
}

// {source, cpus, big, little, allowed, num_classes}: CpuClasses.java unpacks them.
JNIEXPORT jlongArray JNICALL Java_dev_ple_CpuClasses_nativeGet(JNIEnv* env, jclass) {
  ple_cpu_classes classes{};
  classes.struct_size = sizeof(classes);
  const ple_status status = ple_cpu_classes_get(&classes);
  if (status != PLE_OK) {
    ThrowStatus(env, status);
    return nullptr;
  }
  const jlong values[6] = {static_cast<jlong>(classes.source), static_cast<jlong>(classes.cpus),
                           static_cast<jlong>(classes.big),    static_cast<jlong>(classes.little),
                           static_cast<jlong>(classes.allowed), static_cast<jlong>(classes.num_classes)};
  jlongArray array = env->NewLongArray(6);
  if (array != nullptr) env->SetLongArrayRegion(array, 0, 6, values);
  return array;
}

JNIEXPORT void JNICALL Java_dev_ple_Session_nativeClose(JNIEnv*, jclass, jlong handle) {
  ple_session* session = FromHandle<ple_session>(handle);
  ple_session_close(&session);
}

}  // extern "C"
