// Errors of the JavaScript package (platforms/web): a failed C API call is a PleError.

const STATUS_NAMES = ['OK', 'INVALID_ARGUMENT', 'IO', 'INVALID_MODEL', 'UNSUPPORTED_VERSION', 'UNSUPPORTED',
  'OUT_OF_MEMORY', 'BATCH_TOO_LARGE', 'INTERNAL', 'INTEGRITY'];

/** A failed call: `status` is the C API's status (ple_status, 1 to 9), `statusName` its name
 * ("INVALID_MODEL", ...), `message` the runtime's explanation (ple_last_error). Input the
 * package rejects before calling C (a feature value of the wrong type) is INVALID_ARGUMENT. */
export class PleError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'PleError';
    this.status = status;
    this.statusName = STATUS_NAMES[status] ?? `status ${status}`;
  }
}

export const INVALID_ARGUMENT = 1;
export const OUT_OF_MEMORY = 6;

export function invalid(message) {
  return new PleError(INVALID_ARGUMENT, `ple: ${message}`);
}
