package dev.ple;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * One feature's (or extra's) values for a batch: floats for a dense feature or an extra, one id
 * per row for a sparse feature, ids and per-row lengths for a sequence. Arrays are read during
 * the call; direct buffers are read in place (from position to limit).
 */
public final class FeatureValues {
  final String name;
  final float[] floats;
  final FloatBuffer floatBuffer;
  final long[] ids;
  final LongBuffer idBuffer;
  final int[] lengths;

  private FeatureValues(String name, float[] floats, FloatBuffer floatBuffer, long[] ids, LongBuffer idBuffer,
      int[] lengths) {
    if (name == null) throw new NullPointerException("name");
    this.name = name;
    this.floats = floats;
    this.floatBuffer = floatBuffer;
    this.ids = ids;
    this.idBuffer = idBuffer;
    this.lengths = lengths;
  }

  /** A dense feature or an extra: rows x width floats, row-major. */
  public static FeatureValues dense(String name, float[] values) {
    return new FeatureValues(name, values.clone(), null, null, null, null);
  }

  /** A dense feature or an extra from a direct buffer (no copy). */
  public static FeatureValues dense(String name, FloatBuffer direct) {
    requireDirect(direct);
    return new FeatureValues(name, null, direct, null, null, null);
  }

  /** A sparse feature: one id per row. */
  public static FeatureValues ids(String name, long[] ids) {
    return new FeatureValues(name, null, null, ids.clone(), null, null);
  }

  /** A sparse feature from a direct buffer (no copy). */
  public static FeatureValues ids(String name, LongBuffer direct) {
    requireDirect(direct);
    return new FeatureValues(name, null, null, null, direct, null);
  }

  /** A sequence feature: every row's ids one after another, and each row's count. */
  public static FeatureValues sequences(String name, long[] ids, int[] lengths) {
    for (int length : lengths) {
      if (length < 0) throw new IllegalArgumentException("negative sequence length");
    }
    return new FeatureValues(name, null, null, ids.clone(), null, lengths.clone());
  }

  private static void requireDirect(java.nio.Buffer buffer) {
    if (!buffer.isDirect()) throw new IllegalArgumentException("a direct buffer is needed (or use the array form)");
  }
}
