// Types of the web package (platforms/web/README.md). Every number array may be a plain array
// or a typed array; ids may be numbers (safe integers) or bigints.

/** A failed call: the C API's status (1..9) and its name, and the runtime's message. */
export class PleError extends Error {
  readonly status: number;
  readonly statusName: 'INVALID_ARGUMENT' | 'IO' | 'INVALID_MODEL' | 'UNSUPPORTED_VERSION' | 'UNSUPPORTED' |
    'OUT_OF_MEMORY' | 'BATCH_TOO_LARGE' | 'INTERNAL' | 'INTEGRITY' | string;
}

export interface LoadOptions {
  /**
   * 'auto' (default): the relaxed-SIMD module where hasExactRelaxedDot(), else the SIMD128 one
   * where the engine has SIMD128, else the baseline; 'relaxed', true (SIMD128) or false force one.
   */
  simd?: 'auto' | 'relaxed' | boolean;
  /** Where ple-relaxed, ple-simd and ple-nosimd (.js and .wasm) are (default: next to ple.js). */
  baseUrl?: string | URL;
}

/** True when this engine runs WebAssembly SIMD128. */
export function hasSimd(): boolean;
/**
 * True when this engine runs relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s exactly as the
 * relaxed module needs (a probe of its extremes; platforms/web/README.md).
 */
export function hasExactRelaxedDot(): boolean;
/** The int8 groups the relaxed module's path multiplies with relaxed SIMD on this engine. */
export function relaxedInt8Groups(): 'all' | 'narrow' | null;
/** Loads and instantiates the module. */
export function load(options?: LoadOptions): Promise<Runtime>;

type Numbers = ArrayLike<number>;
type Ids = ArrayLike<number> | BigInt64Array | bigint[];
/**
 * One feature's value. Dense: numbers (count x width, or one array per row). Sparse: ids, or raw
 * values (strings or numbers) when the feature has an encoder; {ids} forces ids. Sequence: one
 * array per row, or {ids, lengths}. A request's single row may be a scalar or a flat array.
 */
export type FeatureValue = number | bigint | string | Numbers | Ids | ArrayLike<string> |
  ArrayLike<ArrayLike<number | bigint | string>> | { ids: Ids | ArrayLike<string>; lengths?: ArrayLike<number> };
export type Features = Record<string, FeatureValue>;

export interface FeatureInfo {
  name: string;
  kind: 'dense' | 'sparse' | 'sequence';
  scope: 'request' | 'candidate';
  /** floats per row (dense), 1 (sparse), max_length (sequence) */
  width: number;
  vocabulary: number;
  encoder: 'none' | 'string-vocabulary' | 'int-vocabulary' | 'hash-string' | 'hash-int' | 'boundaries';
}

export interface ExpertInfo { inputStream: number; inputWidth: number; outputWidth: number; layers: number }
/** Streams 0 .. tasks - 1 are the tasks', stream tasks.length the shared one. */
export interface GateInfo { inputStream: number; outputStream: number; layers: number; experts: number[] }

export class Runtime {
  /** true when a SIMD128 module (relaxed or not) was loaded */
  readonly simd: boolean;
  /** The module loaded. */
  readonly variant: 'relaxed' | 'simd' | 'nosimd';
  /** In the relaxed module: 'all' int8 groups take relaxed SIMD, or only 'narrow' ones; else null. */
  readonly relaxedInt8Groups: 'all' | 'narrow' | null;
  /** "MAJOR.MINOR.PATCH" */
  readonly version: string;
  /** The kernel paths this module runs: "reference", "wasmsimd" in the SIMD modules, "wasmrelaxed" in the relaxed one. */
  readonly kernelPaths: string[];
  /** Bytes of the module's memory (grows, never shrinks). */
  readonly memoryBytes: number;
  /** Bytes of the module's heap in use. */
  heapBytesInUse(): number;
  /** Opens a model file's bytes (copied: the caller may reuse them). */
  openModel(bytes: ArrayBuffer | ArrayBufferView, options?: { verifyChecksum?: boolean; expectedSha256?: ArrayBufferView }): Model;
  /** Indices of the min(k, n) best scores, best first (ties: lower index; NaN last). */
  topK(scores: Numbers, k: number): Uint32Array;
}

export class Model {
  readonly features: FeatureInfo[];
  /** Per-candidate floats only the score reads (e.g. "video_len"). */
  readonly extras: string[];
  /** In the order of every run's outputs. */
  readonly tasks: { name: string; type: 'binary' | 'regression' }[];
  readonly hasScore: boolean;
  readonly levels: { experts: ExpertInfo[]; gates: GateInfo[] }[];
  metadata(key: string): string | null;
  createSession(options?: { maxBatch?: number; kernels?: string; recordGates?: boolean }): Session;
  createRequest(): Request;
  /** Frees the model; its open sessions and requests keep working. Closing twice is harmless. */
  close(): void;
}

export class Request {
  /** Every request-scope feature, one row. Returns this. */
  set(features: Features): this;
  close(): void;
}

export interface RunOptions {
  /** The request context (models with request-scope features). */
  request?: Request;
  /** The number of candidates (default: read from the first candidate feature). */
  count?: number;
  /** Filled instead of a new array: at least count x tasks floats. */
  outputs?: Float32Array;
  /** Filled instead of a new array, or false: no score. Default: a score when the model has one. */
  scores?: Float32Array | false;
}

export interface RunResult {
  count: number;
  /** count x tasks, row-major, task order; never a view into the module's memory */
  outputs: Float32Array;
  scores: Float32Array | null;
}

export class Session {
  /** "wasmrelaxed", "wasmsimd" or "reference" */
  readonly kernelPath: string;
  readonly maxBatch: number;
  readonly arenaBytes: number;
  run(candidates: Features, options?: RunOptions): RunResult;
  setGateRecording(enable: boolean): void;
  /** The last run's softmax weights of a gate: rows x experts, in the gate's expert order. */
  gateWeights(level: number, gate: number): { rows: number; experts: number; weights: Float32Array };
  close(): void;
}
