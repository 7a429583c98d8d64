package dev.ple;

import java.nio.FloatBuffer;

/** A model prepared for a maximum batch. Used by one thread at a time. */
public final class Session extends NativeHandle {
  private final Model model;  // keeps the model's Java side (and a buffer it reads in place) reachable
  private final int tasks;

  /** Every CPU (the default): no pinning. */
  public static final int CPUS_ALL = 0;
  /** The performance cores (every class above the lowest: {@link CpuClasses}). */
  public static final int CPUS_BIG = 1;
  /** The efficiency cores: least power, least speed. */
  public static final int CPUS_LITTLE = 2;
  /** Exactly the CPUs of the cpuMask argument (bit i = CPU i). */
  public static final int CPUS_MASK = 3;

  /**
   * Kernel path 0 = auto, 1 = reference, 2 = XNNPACK (docs/c-api.md); numThreads threads per
   * run, the caller's included (1 to 64; outputs are the same bits for any count); cpus, one
   * of the CPUS_ constants, says where the session's threads run (the workers are pinned, and
   * the calling thread is moved there for each run), cpuMask the CPUs of CPUS_MASK. A selection
   * that leaves no CPU this app may use is a PleException (status 1) naming the masks.
   */
  public Session(Model model, int maxBatch, int kernelPath, int numThreads, int cpus, long cpuMask) {
    super(nativeCreate(model.handle(), maxBatch, kernelPath, numThreads, cpus, cpuMask), "session");
    this.model = model;
    tasks = model.taskNames().length;
  }

  public Session(Model model, int maxBatch, int kernelPath, int numThreads) {
    this(model, maxBatch, kernelPath, numThreads, CPUS_ALL, 0);
  }

  public Session(Model model, int maxBatch, int kernelPath) {
    this(model, maxBatch, kernelPath, 1);
  }

  public Session(Model model, int maxBatch) {
    this(model, maxBatch, 0);
  }

  /** Scores candidates; returns numCandidates x tasks outputs, row-major. */
  public float[] run(Request request, FeatureValues[] candidates, int numCandidates) {
    final float[] outputs = new float[numCandidates * tasks];
    run(request, candidates, numCandidates, outputs, null);
    return outputs;
  }

  /** Scores candidates into arrays; {@code scores} may be null (else numCandidates long). */
  public void run(Request request, FeatureValues[] candidates, int numCandidates, float[] outputs, float[] scores) {
    nativeRun(handle(), request == null ? 0 : request.handle(), candidates, numCandidates, outputs, null, scores, null);
  }

  /** Scores candidates into direct buffers (no copy); {@code scores} may be null. */
  public void run(Request request, FeatureValues[] candidates, int numCandidates, FloatBuffer outputs,
      FloatBuffer scores) {
    if (!outputs.isDirect() || (scores != null && !scores.isDirect())) {
      throw new IllegalArgumentException("direct buffers are needed (or use the array form)");
    }
    nativeRun(handle(), request == null ? 0 : request.handle(), candidates, numCandidates, null, outputs, null, scores);
  }

  /** The CPUs the session's workers run with, as each read its own affinity; 0 without workers. */
  public long workerCpuMask() {
    return nativeWorkerCpuMask(handle());
  }

  /** Indices of the best k scores, best first; ties keep the lower index first; NaN ranks last. */
  public static int[] topK(float[] scores, int k) {
    NativeLibrary.load();
    return nativeTopK(scores, k);
  }

  @Override
  void release(long handle) {
    nativeClose(handle);
  }

  private static native long nativeCreate(long model, int maxBatch, int kernelPath, int numThreads, int cpus,
      long cpuMask);
  private static native long nativeWorkerCpuMask(long handle);
  private static native void nativeRun(long handle, long request, FeatureValues[] candidates, int numCandidates,
      float[] outputs, FloatBuffer outputBuffer, float[] scores, FloatBuffer scoreBuffer);
  private static native int[] nativeTopK(float[] scores, int k);
  private static native void nativeClose(long handle);
}
