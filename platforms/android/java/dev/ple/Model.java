package dev.ple;

import java.io.FileDescriptor;
import java.nio.ByteBuffer;

/**
 * A loaded, verified model, immutable and shareable across threads. {@link #close()} releases this
 * reference; sessions and requests made from the model keep it (and a direct buffer it reads in
 * place, see {@link #fromByteBuffer}) alive.
 */
public final class Model extends NativeHandle {
  private final ByteBuffer keepAlive;  // a direct buffer the native model reads in place

  private Model(long handle, ByteBuffer keepAlive) {
    super(handle, "model");
    this.keepAlive = keepAlive;
  }

  /** Maps a model file read-only. */
  public static Model fromFile(String path) {
    NativeLibrary.load();
    return new Model(nativeOpenFile(path), null);
  }

  /**
   * From a buffer: a direct buffer is read in place when its address is 64-byte aligned (else
   * copied once); a heap buffer is copied. The buffer's position..limit is the model.
   */
  public static Model fromByteBuffer(ByteBuffer buffer) {
    NativeLibrary.load();
    if (buffer.isDirect()) {
      final long handle = nativeOpenDirectBuffer(buffer, buffer.position(), buffer.remaining());
      return new Model(handle, nativeIsCopy(handle) ? null : buffer);
    }
    final byte[] bytes = new byte[buffer.remaining()];
    buffer.duplicate().get(bytes);
    return new Model(nativeOpenBytes(bytes), null);
  }

  /**
   * From part of an open file, as an APK asset is opened: {@code AssetFileDescriptor afd =
   * assets.openFd("model.ple"); Model.fromFileDescriptor(afd.getFileDescriptor(),
   * afd.getStartOffset(), afd.getLength())} (store the asset uncompressed). The descriptor may be
   * closed afterwards. Used in place when the offset is 64-byte aligned, else copied once.
   */
  public static Model fromFileDescriptor(FileDescriptor fd, long offset, long length) {
    NativeLibrary.load();
    return new Model(nativeOpenFd(fd, offset, length), null);
  }

  /** True when the model holds its own copy of the bytes (they were not 64-byte aligned). */
  public boolean isCopy() {
    return nativeIsCopy(handle());
  }

  public String[] taskNames() {
    return nativeTaskNames(handle());
  }

  /** Feature names in the model's order (request-scope first). */
  public String[] featureNames() {
    return nativeFeatureNames(handle());
  }

  @Override
  void release(long handle) {
    nativeClose(handle);
  }

  private static native long nativeOpenFile(String path);
  private static native long nativeOpenDirectBuffer(ByteBuffer buffer, int position, int length);
  private static native long nativeOpenBytes(byte[] bytes);
  private static native long nativeOpenFd(FileDescriptor fd, long offset, long length);
  private static native boolean nativeIsCopy(long handle);
  private static native String[] nativeTaskNames(long handle);
  private static native String[] nativeFeatureNames(long handle);
  private static native void nativeClose(long handle);
}
