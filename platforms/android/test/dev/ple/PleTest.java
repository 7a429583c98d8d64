package dev.ple;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Test;

/**
 * The Java API on the host JVM, against the example feed model (tests/golden/v2-feed-ranker.ple,
 * given as -Dple.model). Expected values: examples/feed/expected.json, the float64 PyTorch
 * reference, for candidates v233, v36 and v5 of examples/feed/request.jsonl.
 */
public class PleTest {
  private static final String MODEL = System.getProperty("ple.model");
  private static final double[][] EXPECTED = {
      {0.6352602152125266, 0.5181844702429088, 0.363864638596253},     // v233
      {0.13436139008230952, 0.22468589595213548, 0.32500044196252037}, // v36
      {0.8017109037420309, 0.9120522680427169, 0.7428752064831211},    // v5
  };
  private static final double[] EXPECTED_SCORES = {0.5445386976046429, 0.14489988828169803, 2.643283667423973};

  private static FeatureValues[] user() {
    return new FeatureValues[] {
        FeatureValues.ids("user_id", new long[] {168}),
        FeatureValues.sequences("history", new long[] {368, 365, 260, 376, 26}, new int[] {5}),
        FeatureValues.ids("hour", new long[] {11}),
        FeatureValues.dense("user_activity", new float[] {3.371f}),
    };
  }

  private static FeatureValues[] candidates() {
    return new FeatureValues[] {
        FeatureValues.ids("video_id", new long[] {233, 36, 5}),
        FeatureValues.ids("video_category", new long[] {5, 3, 14}),
        FeatureValues.dense("video_quality", new float[] {0.471f, 0.56f, 0.693f, 0.264f, 0.261f, 0.666f}),
        FeatureValues.dense("video_len", new float[] {6.2f, 53.1f, 53.9f}),
    };
  }

  private static void assertOutputs(float[] outputs, float[] scores) {
    for (int c = 0; c < 3; ++c) {
      for (int t = 0; t < 3; ++t) {
        final double want = EXPECTED[c][t];
        assertEquals("candidate " + c + " task " + t, want, outputs[c * 3 + t], Math.max(1e-6, 1e-5 * Math.abs(want)));
      }
      if (scores != null) {
        final double want = EXPECTED_SCORES[c];
        assertEquals("score " + c, want, scores[c], Math.max(1e-6, 1e-5 * Math.abs(want)));
      }
    }
  }

  private static void rank(Model model) {
    try (Session session = new Session(model, 16); Request request = new Request(model)) {
      request.set(user());
      final float[] outputs = new float[9];
      final float[] scores = new float[3];
      session.run(request, candidates(), 3, outputs, scores);
      assertOutputs(outputs, scores);
      assertArrayEquals(new int[] {2, 0, 1}, Session.topK(scores, 3));  // v5, v233, v36
    }
  }

  @Test
  public void takesAThreadCount() {
    try (Model model = Model.fromFile(MODEL);
         Session session = new Session(model, 16, 0, 3);
         Request request = new Request(model)) {
      request.set(user());
      final float[] outputs = new float[9];
      final float[] scores = new float[3];
      session.run(request, candidates(), 3, outputs, scores);
      assertOutputs(outputs, scores);
      assertThrows(IllegalArgumentException.class, () -> new Session(model, 16, 0, 0));
      assertThrows(PleException.class, () -> new Session(model, 16, 0, 65));
    }
  }

  /**
   * Core selection on the 4+4 fixture tree (PLE_CPU_SYSFS_ROOT, set by the ctest entry): CPUs
   * 0-3 little, 4-7 big, intersected with the CPUs this JVM may use. The workers' masks are
   * what each read inside itself.
   */
  @Test
  public void selectsBigOrLittleCores() {
    final CpuClasses classes = CpuClasses.get();
    assertEquals(CpuClasses.SOURCE_CAPACITY, classes.source);
    assertEquals(0x0fL, classes.little);
    assertEquals(0xf0L, classes.big);
    assertEquals(2, classes.numClasses);
    assertTrue(classes.allowed != 0);
    try (Model model = Model.fromFile(MODEL); Request request = new Request(model)) {
      request.set(user());
      for (int cpus : new int[] {Session.CPUS_BIG, Session.CPUS_LITTLE}) {
        final long wanted = (cpus == Session.CPUS_BIG ? classes.big : classes.little) & classes.allowed;
        if (wanted == 0) {
          final PleException e = assertThrows(PleException.class, () -> new Session(model, 16, 0, 3, cpus, 0));
          assertEquals(1, e.status());
          assertTrue(e.getMessage(), e.getMessage().contains("are all outside the CPUs this thread may run on"));
          continue;
        }
        // On a thread of its own: a run moves its calling thread inside the selection and leaves it there.
        final float[] outputs = new float[9];
        final float[] scores = new float[3];
        final long[] workers = new long[1];
        final Thread caller = new Thread(() -> {
          try (Session session = new Session(model, 16, 0, 3, cpus, 0)) {
            workers[0] = session.workerCpuMask();
            session.run(request, candidates(), 3, outputs, scores);
          }
        });
        caller.start();
        joinQuietly(caller);
        assertTrue(workers[0] != 0);
        assertEquals(0L, workers[0] & ~wanted);
        assertOutputs(outputs, scores);
      }
      final long lowest = Long.lowestOneBit(classes.allowed);
      try (Session session = new Session(model, 16, 0, 2, Session.CPUS_MASK, lowest)) {
        assertEquals(lowest, session.workerCpuMask());
      }
      assertThrows(PleException.class, () -> new Session(model, 16, 0, 2, Session.CPUS_MASK, 0));
      assertThrows(PleException.class, () -> new Session(model, 16, 0, 2, 9, 0));
    }
  }

  private static void joinQuietly(Thread thread) {
    try {
      thread.join();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  public void loadsFromAFileAndRanks() {
    try (Model model = Model.fromFile(MODEL)) {
      assertArrayEquals(new String[] {"click", "share", "comment"}, model.taskNames());
      assertEquals("user_id", model.featureNames()[0]);
      assertFalse(model.isCopy());
      rank(model);
    }
  }

  @Test
  public void loadsFromDirectBuffersInPlaceWhenAligned() throws IOException {
    final byte[] bytes = Files.readAllBytes(Paths.get(MODEL));
    final ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length + 128);
    // Exactly one start in any 64 consecutive ones is 64-byte aligned: there the model is read
    // in place, everywhere else copied once.
    int in_place = 0;
    for (int start = 0; start < 64; ++start) {
      final ByteBuffer view = direct.duplicate();
      view.position(start);
      view.put(bytes);
      view.position(start).limit(start + bytes.length);
      try (Model model = Model.fromByteBuffer(view)) {
        if (!model.isCopy()) {
          ++in_place;
          rank(model);
        } else if (start % 16 == 5) {
          rank(model);
        }
      }
    }
    assertEquals(1, in_place);
    // A heap buffer is copied.
    try (Model model = Model.fromByteBuffer(ByteBuffer.wrap(bytes))) {
      assertTrue(model.isCopy());
      rank(model);
    }
  }

  @Test
  public void loadsFromAFileDescriptorWithOffsetAndLength() throws IOException {
    final byte[] bytes = Files.readAllBytes(Paths.get(MODEL));
    final Path container = Files.createTempFile("ple-assets", ".bin");
    for (int offset : new int[] {4096, 4100}) {  // as an asset inside an APK
      try (FileOutputStream out = new FileOutputStream(container.toFile())) {
        out.write(new byte[offset]);
        out.write(bytes);
        out.write(new byte[33]);
      }
      try (FileInputStream in = new FileInputStream(container.toFile());
           Model model = Model.fromFileDescriptor(in.getFD(), offset, bytes.length)) {
        assertEquals(offset % 64 != 0, model.isCopy());
        rank(model);
      }
    }
    Files.delete(container);
  }

  @Test
  public void runsOnDirectBuffers() {
    try (Model model = Model.fromFile(MODEL); Session session = new Session(model, 8); Request request = new Request(model)) {
      request.set(user());
      final LongBuffer videos = ByteBuffer.allocateDirect(3 * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
      videos.put(new long[] {233, 36, 5}).flip();
      final FloatBuffer lengths = ByteBuffer.allocateDirect(3 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      lengths.put(new float[] {6.2f, 53.1f, 53.9f}).flip();
      final FeatureValues[] items = candidates();
      items[0] = FeatureValues.ids("video_id", videos);
      items[3] = FeatureValues.dense("video_len", lengths);
      final FloatBuffer outputs = ByteBuffer.allocateDirect(9 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      final FloatBuffer scores = ByteBuffer.allocateDirect(3 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      session.run(request, items, 3, outputs, scores);
      final float[] out = new float[9];
      final float[] score = new float[3];
      outputs.get(out);
      scores.get(score);
      assertOutputs(out, score);
      // The array form without scores.
      assertOutputs(session.run(request, candidates(), 3), null);
    }
  }

  @Test
  public void errorsBecomeExceptionsWithTheMessage() {
    try (Model model = Model.fromFile(MODEL); Session session = new Session(model, 2); Request request = new Request(model)) {
      request.set(user());
      final FeatureValues[] missing = {candidates()[0], candidates()[2], candidates()[3]};
      try {
        session.run(request, missing, 3, new float[9], null);
        fail("expected a PleException");
      } catch (PleException e) {
        assertEquals(7, e.status());  // more candidates than the session's maximum of 2
        assertTrue(e.getMessage(), e.getMessage().contains("at most 2"));
      }
      try (Session large = new Session(model, 8)) {
        large.run(request, missing, 3, new float[9], null);
        fail("expected a PleException");
      } catch (PleException e) {
        assertEquals(1, e.status());
        assertTrue(e.getMessage(), e.getMessage().contains("feature 'video_category' is missing"));
      }
      try {
        request.set(FeatureValues.ids("user_id", new long[] {300}), user()[1], user()[2], user()[3]);
        fail("expected a PleException");
      } catch (PleException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("feature 'user_id': id 300"));
      }
    }
    try {
      Model.fromFile("/nonexistent/model.ple");
      fail("expected a PleException");
    } catch (PleException e) {
      assertEquals(2, e.status());
      assertTrue(e.getMessage(), e.getMessage().contains("/nonexistent/model.ple"));
    }
  }

  @Test
  public void closingTwiceIsHarmlessAndUseAfterCloseIsAnError() {
    final Model model = Model.fromFile(MODEL);
    final Session session = new Session(model, 4);
    model.close();
    model.close();
    try {
      model.taskNames();
      fail("expected an IllegalStateException");
    } catch (IllegalStateException expected) {
      // the model handle is gone; the session still holds the model
    }
    try (Request request = new Request(Model.fromFile(MODEL))) {
      // a request of another model
      request.set(user());
      try {
        session.run(request, candidates(), 3, new float[9], null);
        fail("expected a PleException");
      } catch (PleException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("another model"));
      }
    }
    session.close();
    session.close();
  }

}
