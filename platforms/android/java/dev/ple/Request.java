package dev.ple;

/**
 * A request context: the request-scope features (user, context) of one request, set once; the
 * request's part of the computation is then reused by every run against it. One thread at a time.
 */
public final class Request implements AutoCloseable {
  private long handle;

  public Request(Model model) {
    handle = nativeCreate(model.handle());
  }

  /** Gives every request-scope feature, for one row. */
  public void set(FeatureValues... values) {
    nativeSet(handle(), values);
  }

  @Override
  public synchronized void close() {
    if (handle != 0) {
      nativeClose(handle);
      handle = 0;
    }
  }

  synchronized long handle() {
    if (handle == 0) throw new IllegalStateException("the request is closed");
    return handle;
  }

  private static native long nativeCreate(long model);
  private static native void nativeSet(long handle, FeatureValues[] values);
  private static native void nativeClose(long handle);
}
