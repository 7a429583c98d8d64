package dev.ple;

/** A failed runtime call: the C API's status code and the library's message. */
public final class PleException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  PleException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The C API's ple_status (1 invalid argument, 2 i/o, 3 invalid model, 4 unsupported version, ...). */
  public int status() {
    return status;
  }
}
