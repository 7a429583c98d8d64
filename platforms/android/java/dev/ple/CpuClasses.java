package dev.ple;

/**
 * The device's big and little CPUs, as {@link Session#CPUS_BIG} and {@link Session#CPUS_LITTLE}
 * use them (ple_cpu_classes_get). Masks: bit i = CPU i, CPUs 0 to 63.
 */
public final class CpuClasses {
  /** No thread affinity on this platform: only {@link Session#CPUS_ALL}. */
  public static final int SOURCE_UNAVAILABLE = 0;
  /** Told apart by cpuN/cpu_capacity. */
  public static final int SOURCE_CAPACITY = 1;
  /** Told apart by cpuN/cpufreq/cpuinfo_max_freq. */
  public static final int SOURCE_MAX_FREQUENCY = 2;
  /** Nothing tells the CPUs apart: big and little are every CPU. */
  public static final int SOURCE_UNIFORM = 3;

  /** How the classes were found: one of the SOURCE_ constants. */
  public final int source;
  /** The CPUs found. */
  public final long cpus;
  /** Every CPU above the lowest class, before the intersection with {@link #allowed}. */
  public final long big;
  /** The lowest class, before the intersection with {@link #allowed}. */
  public final long little;
  /** The CPUs the calling thread may run on. */
  public final long allowed;
  /** Distinct capacities (or frequencies) found; 1 when uniform. */
  public final int numClasses;

  private CpuClasses(long[] values) {
    source = (int) values[0];
    cpus = values[1];
    big = values[2];
    little = values[3];
    allowed = values[4];
    numClasses = (int) values[5];
  }

  /** Reads them now (sysfs on Linux and Android). */
  public static CpuClasses get() {
    NativeLibrary.load();
    return new CpuClasses(nativeGet());
  }

  private static native long[] nativeGet();
}
