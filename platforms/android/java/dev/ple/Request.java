package dev.ple;

/**
 * A request context: the request-scope features (user, context) of one request, set once; the
 * request's part of the computation is then reused by every run against it. One thread at a time.
 */
public final class Request extends NativeHandle {
  private final Model model;  // keeps the model's Java side (and a buffer it reads in place) reachable

  public Request(Model model) {
    super(nativeCreate(model.handle()), "request");
    this.model = model;
  }

  /** Gives every request-scope feature, for one row. */
  public void set(FeatureValues... values) {
    nativeSet(handle(), values);
  }

  @Override
  void release(long handle) {
    nativeClose(handle);
  }

  private static native long nativeCreate(long model);
  private static native void nativeSet(long handle, FeatureValues[] values);
  private static native void nativeClose(long handle);
}
