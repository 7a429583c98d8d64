package dev.ple;

/** A handle of the C API owned by a Java object: closed once, unusable after. */
abstract class NativeHandle implements AutoCloseable {
  private long handle;
  private final String what;

  NativeHandle(long handle, String what) {
    this.handle = handle;
    this.what = what;
  }

  /** Releases the native object; closing again is harmless. */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      release(handle);
      handle = 0;
    }
  }

  synchronized long handle() {
    if (handle == 0) throw new IllegalStateException("the " + what + " is closed");
    return handle;
  }

  abstract void release(long handle);
}
