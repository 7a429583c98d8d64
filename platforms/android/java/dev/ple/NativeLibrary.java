package dev.ple;

/** Loads libple_jni once (System.loadLibrary: an APK's lib/<abi>/, or java.library.path). */
final class NativeLibrary {
  private static boolean loaded;

  private NativeLibrary() {}

  static synchronized void load() {
    if (!loaded) {
      System.loadLibrary("ple_jni");
      loaded = true;
    }
  }
}
