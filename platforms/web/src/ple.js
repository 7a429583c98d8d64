// The PLE runtime for JavaScript: browsers and node 18+, over the C API (runtime/include/ple/ple.h)
// compiled to WebAssembly (platforms/web/CMakeLists.txt). README.md shows the use; ple.d.ts
// states the types.
//
// Memory contract: a model, session or request owns C objects inside the module's memory,
// freed by close() (a FinalizationRegistry frees what is collected unclosed, as a safety net).
// A run writes its inputs into one scratch area owned by the Runtime, which grows only when a
// call needs more than any earlier one: a run in steady state allocates nothing in the module
// and returns fresh JavaScript arrays (or fills the ones the caller gives). Views into the
// module's memory are never handed out: they detach when the memory grows.

import { OUT_OF_MEMORY, PleError } from './errors.js';
import { Model, Request, Session } from './model.js';

export { Model, PleError, Request, Session };

// A module that validates only where the engine has SIMD128: one function returning v128.const 0.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,        // type section: () -> v128
  0x03, 0x02, 0x01, 0x00,                          // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,        // code section: no locals, v128.const
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b]);

/** True when this engine runs WebAssembly SIMD128. */
export function hasSimd() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

// The relaxed module's int8 GEMMs (runtime/src/kernels/wasmrelaxed.cc) multiply signed
// activations in [-128, 127] by weights shifted to unsigned with
// i32x4.relaxed_dot_i8x16_i7x16_add_s: narrow weights to [0, 128], others to [0, 255]. The
// relaxed SIMD proposal lets an engine read a second operand's byte >= 128 as signed or unsigned
// and saturate pairs of products (and node 20's experimental version computes the instruction
// wrongly altogether), so the module is used only where this probe's sums, extremes included,
// come out exact with those bytes read as unsigned; the runtime runs the same probe
// (RelaxedDotExact) to decide which groups take the instruction. Lane 3 of the full-range probe
// (255 x -128 and 255 x 127) saturates an int16 pair: exact only where the engine lowers the
// instruction to vpdpbusd (x86 with AVX-VNNI).
const PROBE_A = [-128, -128, -128, -128, 127, 127, 127, 127, -128, 127, -1, 3, -128, -128, 127, 127];
const PROBE_NARROW_B = [128, 128, 128, 128, 128, 128, 128, 128, 127, 0, 128, 77, 1, 99, 64, 127];
const PROBE_FULL_B = [128, 128, 128, 128, 128, 128, 128, 128, 127, 0, 128, 77, 255, 255, 255, 255];
const PROBE_C = [7, -1, 100000, -300];

function relaxedProbeModule(probeB) {
  const expected = PROBE_C.map((c, lane) => {
    let sum = c;
    for (let i = 4 * lane; i < 4 * lane + 4; ++i) sum += PROBE_A[i] * probeB[i];
    return sum;
  });
  const bytes8 = (values) => values.map((v) => v & 0xff);
  const bytes32 = (values) => values.flatMap((v) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff]);
  const v128 = (bytes) => [0xfd, 0x0c, ...bytes];  // v128.const
  const body = [0x00,  // no locals
    ...v128(bytes8(PROBE_A)), ...v128(bytes8(probeB)), ...v128(bytes32(PROBE_C)),
    0xfd, 0x93, 0x02,  // i32x4.relaxed_dot_i8x16_i7x16_add_s (0x113)
    ...v128(bytes32(expected)),
    0xfd, 0x37,        // i32x4.eq
    0xfd, 0xa3, 0x01,  // i32x4.all_true
    0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // "\0asm", version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,        // type section: () -> i32
    0x03, 0x02, 0x01, 0x00,                          // function section: one function of type 0
    0x07, 0x05, 0x01, 0x01, 0x70, 0x00, 0x00,        // export section: "p", function 0
    0x0a, body.length + 2, 0x01, body.length, ...body]);
}

function relaxedProbePasses(probeB) {
  if (!hasSimd()) return false;
  const bytes = relaxedProbeModule(probeB);
  if (!WebAssembly.validate(bytes)) return false;
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.p() === 1;
  } catch {
    return false;
  }
}

/**
 * True when this engine runs relaxed SIMD's int8 dot product exactly as the relaxed module's
 * narrow groups need (see above): Chromium and Firefox ESR on x86-64, for two; not node 20
 * (experimental, wrong sums) nor engines that read the weights' bytes as signed.
 */
export function hasExactRelaxedDot() {
  return relaxedProbePasses(PROBE_NARROW_B);
}

/**
 * Which int8 groups the relaxed module's wasmrelaxed path multiplies with relaxed SIMD on this
 * engine: 'all' (full bytes exact too: the engine lowers it to vpdpbusd), 'narrow' (groups of
 * narrow files only) or null (the relaxed module is not for this engine).
 */
export function relaxedInt8Groups() {
  if (!hasExactRelaxedDot()) return null;
  return relaxedProbePasses(PROBE_FULL_B) ? 'all' : 'narrow';
}

const isNode = typeof process === 'object' && typeof process.versions === 'object' && !!process.versions.node;

async function readWasm(url) {
  if (url.protocol === 'file:' && isNode) {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`ple: cannot fetch ${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function instantiate(url, imports) {
  if (url.protocol !== 'file:' && typeof WebAssembly.instantiateStreaming === 'function') {
    try {
      return await WebAssembly.instantiateStreaming(fetch(url, { credentials: 'same-origin' }), imports);
    } catch (error) {
      // A server that does not send application/wasm: compile from the bytes instead.
      if (!(error instanceof TypeError)) throw error;
    }
  }
  return WebAssembly.instantiate(await readWasm(url), imports);
}

// The module options.simd asks for: 'relaxed', 'simd' or 'nosimd'.
function moduleVariant(simd) {
  if (simd === undefined || simd === 'auto') {
    if (hasExactRelaxedDot()) return 'relaxed';
    return hasSimd() ? 'simd' : 'nosimd';
  }
  if (simd === 'relaxed') return 'relaxed';
  return simd ? 'simd' : 'nosimd';
}

/**
 * Loads the runtime. options.simd: 'auto' (default: the relaxed-SIMD module where the engine
 * passes hasExactRelaxedDot(), else SIMD128 where it has it, else none), 'relaxed', true or
 * false; options.baseUrl: where ple-relaxed, ple-simd and ple-nosimd (.js and .wasm) are (default:
 * next to this file).
 */
export async function load(options = {}) {
  const variant = moduleVariant(options.simd);
  const name = `ple-${variant}`;
  // A folder: "dist" and "dist/" alike.
  const folder = options.baseUrl ? String(options.baseUrl).replace(/\/?$/, '/') : './';
  const base = new URL(folder, import.meta.url);
  const { default: createPleModule } = await import(new URL(`${name}.js`, base).href);
  const wasmUrl = new URL(`${name}.wasm`, base);
  // emscripten's promise never settles when instantiateWasm fails: this one rejects instead.
  let fail;
  const failed = new Promise((resolve, reject) => { fail = reject; });
  const module = await Promise.race([failed, createPleModule({
    instantiateWasm(imports, receiveInstance) {
      instantiate(wasmUrl, imports).then((result) => receiveInstance(result.instance, result.module),
        (error) => fail(new Error(`ple: cannot instantiate ${wasmUrl}: ${error.message ?? error}`)));
      return {};
    },
    print: () => {},
    printErr: () => {},
  })]);
  return new Runtime(module, variant);
}

// A growable area of the module's memory that one call at a time lays its arguments out in.
class Scratch {
  constructor(m) {
    this.m = m;
    this.ptr = 0;
    this.capacity = 0;
    this.used = 0;
  }
  // Makes room for `bytes` (which may grow the memory: take views only after this).
  reserve(bytes) {
    if (bytes > this.capacity) {
      if (this.ptr) this.m._free(this.ptr);
      const capacity = Math.max(bytes, this.capacity * 2, 4096);
      this.ptr = this.m._malloc(capacity);
      if (!this.ptr) {
        this.capacity = 0;
        throw new PleError(OUT_OF_MEMORY, `ple: cannot allocate ${capacity} bytes of scratch`);
      }
      this.capacity = capacity;
    }
    this.used = 0;
  }
  take(bytes, align = 8) {
    const offset = (this.used + align - 1) & ~(align - 1);
    if (offset + bytes > this.capacity) throw new Error('ple: internal error: scratch plan too small');
    this.used = offset + bytes;
    return this.ptr + offset;
  }
  free() {
    if (this.ptr) this.m._free(this.ptr);
    this.ptr = 0;
    this.capacity = 0;
  }
}

const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ runtime, close, handle }) => runtime._closeHandle(close, handle))
  : null;

/** The loaded module. One per page is enough; its models, sessions and requests are its own. */
export class Runtime {
  constructor(module, variant) {
    this.m = module;
    /** true when a SIMD128 module (the relaxed one or not) was loaded. */
    this.simd = variant !== 'nosimd';
    /** The module loaded: 'relaxed', 'simd' or 'nosimd'. */
    this.variant = variant;
    /** In the relaxed module, the int8 groups its wasmrelaxed path gives relaxed SIMD: 'all' or 'narrow'. */
    this.relaxedInt8Groups = variant === 'relaxed' ? relaxedInt8Groups() : null;
    this._scratch = new Scratch(module);
    this._slot = module._malloc(32);  // out-parameters: handles, counts, the layout below
    module._ple_web_feature_values_layout(this._slot);
    const w = module.HEAPU32.slice(this._slot >> 2, (this._slot >> 2) + 7);
    // ple_feature_values as this module lays it out (ple_web.c reports it; nothing is assumed).
    this._layout = { size: w[0], name: w[1], values: w[2], numValues: w[3], ids: w[4], numIds: w[5], lengths: w[6] };
  }

  /** The library's version, "MAJOR.MINOR.PATCH". */
  get version() { return this.m.UTF8ToString(this.m._ple_version_string()); }

  /** The kernel paths this module can run, by name ("reference", "wasmsimd", "wasmrelaxed"). */
  get kernelPaths() {
    const names = [];
    for (let path = 1; path <= 16; ++path) {
      if (this.m._ple_kernel_path_available(path)) names.push(this.m.UTF8ToString(this.m._ple_kernel_path_name(path)));
    }
    return names;
  }

  /** Bytes of the module's heap in use (tests: runs must not change it). */
  heapBytesInUse() { return this.m._ple_web_heap_bytes_in_use(); }

  /** Bytes of the module's memory (grows, never shrinks). */
  get memoryBytes() { return this.m.HEAPU8.length; }

  _check(status) {
    if (status !== 0) throw new PleError(status, this.m.UTF8ToString(this.m._ple_last_error()));
  }

  _closeHandle(close, handle) {
    this.m.HEAPU32[this._slot >> 2] = handle;
    close(this._slot);
  }

  _track(object, close, handle) {
    if (registry) registry.register(object, { runtime: this, close, handle }, object);
  }

  _untrack(object) {
    if (registry) registry.unregister(object);
  }

  /**
   * Opens a model from its bytes (ArrayBuffer, a typed array or a DataView; copied, so the
   * caller may reuse them). options.verifyChecksum: check the file's SHA-256 trailer;
   * options.expectedSha256: 32 bytes the file's SHA-256 must equal.
   */
  openModel(bytes, options = {}) {
    const data = toBytes(bytes, 'openModel: bytes');
    const pin = options.expectedSha256 ? toBytes(options.expectedSha256, 'openModel: expectedSha256') : null;
    if (pin && pin.length !== 32) throw new TypeError('ple: openModel: expectedSha256 must be 32 bytes');
    const m = this.m;
    const ptr = m._malloc(Math.max(1, data.length) + 32);
    if (!ptr) throw new PleError(OUT_OF_MEMORY, `ple: cannot allocate ${data.length} bytes for the model`);
    try {
      m.HEAPU8.set(data, ptr);
      if (pin) m.HEAPU8.set(pin, ptr + data.length);
      this._check(m._ple_web_model_open(ptr, data.length, options.verifyChecksum ? 1 : 0,
        pin ? ptr + data.length : 0, this._slot));
    } finally {
      m._free(ptr);
    }
    return new Model(this, m.HEAPU32[this._slot >> 2]);
  }

  /** Indices of the min(k, scores.length) best scores, best first; ties keep the lower index;
   * NaN ranks last. */
  topK(scores, k) {
    const values = toFloat32(scores, 'topK: scores');
    const count = values.length;
    const n = Math.min(k, count);
    this._scratch.reserve(count * 8 + 16);
    const scoresPtr = this._scratch.take(count * 4, 4);
    const outPtr = this._scratch.take(n * 4 + 4, 4);
    this.m.HEAPF32.set(values, scoresPtr >> 2);
    this._check(this.m._ple_rank_top_k(scoresPtr, count, k, outPtr));
    return this.m.HEAPU32.slice(outPtr >> 2, (outPtr >> 2) + n);
  }
}

function toBytes(bytes, what) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (Array.isArray(bytes)) return Uint8Array.from(bytes);
  throw new TypeError(`ple: ${what}: expected an ArrayBuffer or a typed array`);
}

function toFloat32(values, what) {
  if (values instanceof Float32Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) return Float32Array.from(values);
  throw new TypeError(`ple: ${what}: expected an array of numbers`);
}

