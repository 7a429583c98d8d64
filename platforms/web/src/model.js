// Models, sessions and requests of the JavaScript package: each wraps one C object (ple.h) and
// frees it on close(). Using a closed object throws; closing twice is harmless. A session or a
// request keeps its model's C object alive (the C API's rule), so a model may be closed first.

import { invalid, PleError } from './errors.js';
import { inferCount, planFeatures, writeFeatures } from './features.js';

const FEATURE_KINDS = ['dense', 'sparse', 'sequence'];
const SCOPES = ['candidate', 'request'];
const TASK_TYPES = ['binary', 'regression'];
const ENCODERS = ['none', 'string-vocabulary', 'int-vocabulary', 'hash-string', 'hash-int', 'boundaries'];

function closedError(what) {
  return new Error(`ple: the ${what} is closed`);
}

// One C object: `handle` freed by the C function `close` (which takes the handle's address).
class Owned {
  constructor(runtime, handle, close, what) {
    this._runtime = runtime;
    this._handle = handle;
    this._close = close;
    this._what = what;
    runtime._track(this, close, handle);
  }

  _live() {
    if (!this._handle) throw closedError(this._what);
    return this._handle;
  }

  /** Frees the C object; closing twice is harmless. */
  close() {
    if (!this._handle) return;
    this._runtime._untrack(this);
    this._runtime._closeHandle(this._close, this._handle);
    this._handle = 0;
  }
}

/** A loaded model file: its features, tasks and structure, and a factory of sessions and requests. */
export class Model extends Owned {
  constructor(runtime, handle) {
    super(runtime, handle, runtime.m._ple_model_close, 'model');
    const m = runtime.m;
    const text = (ptr) => m.UTF8ToString(ptr);
    /** [{name, kind: 'dense'|'sparse'|'sequence', scope: 'request'|'candidate', width, vocabulary, encoder}] */
    this.features = [];
    this._specs = new Map();
    for (let i = 0; i < m._ple_model_num_features(handle); ++i) {
      const spec = {
        name: text(m._ple_model_feature_name(handle, i)), index: i,
        kind: m._ple_model_feature_kind(handle, i), scope: m._ple_model_feature_scope(handle, i),
        width: m._ple_model_feature_width(handle, i), encoder: m._ple_model_feature_encoder(handle, i),
      };
      this._specs.set(spec.name, spec);
      this.features.push({
        name: spec.name, kind: FEATURE_KINDS[spec.kind], scope: SCOPES[spec.scope], width: spec.width,
        vocabulary: m._ple_model_feature_vocabulary(handle, i), encoder: ENCODERS[spec.encoder] ?? 'unknown',
      });
    }
    /** Names of the extras: per-candidate floats only the ranking score reads (e.g. video_len). */
    this.extras = [];
    for (let i = 0; i < m._ple_model_num_extras(handle); ++i) {
      const name = text(m._ple_model_extra_name(handle, i));
      this.extras.push(name);
      this._specs.set(name, { name, index: -1, kind: 0, scope: 0, width: 1, encoder: 0 });
    }
    /** [{name, type: 'binary'|'regression'}], in the order of every run's outputs. */
    this.tasks = [];
    for (let i = 0; i < m._ple_model_num_tasks(handle); ++i) {
      this.tasks.push({ name: text(m._ple_model_task_name(handle, i)), type: TASK_TYPES[m._ple_model_task_type(handle, i)] });
    }
    /** true when the model has a ranking score: runs then return `scores`. */
    this.hasScore = m._ple_web_model_has_score(handle) === 1;
    /** The experts and gates of each level (docs/diagnostics.md): streams 0 .. tasks - 1 are the
     * tasks', stream `tasks.length` the shared one. */
    this.levels = this._readLevels();
  }

  _readLevels() {
    const runtime = this._runtime;
    const m = runtime.m;
    const levels = [];
    const out = m._malloc(4 * 260);
    try {
      for (let l = 0; l < m._ple_model_num_levels(this._handle); ++l) {
        const experts = [], gates = [];
        for (let e = 0; e < m._ple_model_num_experts(this._handle, l); ++e) {
          runtime._check(m._ple_web_expert_info(this._handle, l, e, out));
          const w = m.HEAPU32.subarray(out >> 2, (out >> 2) + 4);
          experts.push({ inputStream: w[0], inputWidth: w[1], outputWidth: w[2], layers: w[3] });
        }
        for (let g = 0; g < m._ple_model_num_gates(this._handle, l); ++g) {
          runtime._check(m._ple_web_gate_info(this._handle, l, g, out, 260));
          const w = m.HEAPU32.subarray(out >> 2, (out >> 2) + 4 + m.HEAPU32[(out >> 2) + 3]);
          gates.push({ inputStream: w[0], outputStream: w[1], layers: w[2], experts: Array.from(w.subarray(4)) });
        }
        levels.push({ experts, gates });
      }
    } finally {
      m._free(out);
    }
    return levels;
  }

  _featureSpec(name) {
    return this._specs.get(name);
  }

  /** The value of a metadata key the converter stored, or null. */
  metadata(key) {
    const m = this._runtime.m;
    const bytes = new TextEncoder().encode(`${key}\0`);
    const ptr = m._malloc(bytes.length);
    try {
      m.HEAPU8.set(bytes, ptr);
      const value = m._ple_model_metadata(this._live(), ptr);
      return value ? m.UTF8ToString(value) : null;
    } finally {
      m._free(ptr);
    }
  }

  /** A session: options.maxBatch (default 256) candidates per run at most, options.kernels
   * ('auto' or a path name), options.recordGates (keep each run's gate weights). */
  createSession(options = {}) {
    return new Session(this, options);
  }

  /** A request context: the request-scope features (the user's), computed once per set(). */
  createRequest() {
    return new Request(this);
  }

}

/** The request-scope features of one request, given once and reused by every run against it. */
export class Request extends Owned {
  constructor(model) {
    const runtime = model._runtime;
    runtime._check(runtime.m._ple_request_create(model._live(), runtime._slot));
    super(runtime, runtime.m.HEAPU32[runtime._slot >> 2], runtime.m._ple_request_close, 'request');
    this._model = model;
  }

  /** Sets every request-scope feature from {name: value} (one row: a scalar or a one-row array). */
  set(features) {
    const handle = this._live();
    const runtime = this._runtime;
    const plan = planFeatures(this._model, features, 1, runtime._layout.size);
    runtime._scratch.reserve(plan.bytes);
    const array = writeFeatures(runtime, this._model, plan, runtime._scratch);
    runtime._check(runtime.m._ple_request_set(handle, array, plan.items.length));
    return this;
  }
}

/** Scores batches of candidates. Not shared between concurrent callers (JavaScript has one). */
export class Session extends Owned {
  constructor(model, options) {
    const runtime = model._runtime;
    const m = runtime.m;
    const kernels = options.kernels ?? 'auto';
    const name = new TextEncoder().encode(`${kernels}\0`);
    const namePtr = m._malloc(name.length);
    let path;
    try {
      m.HEAPU8.set(name, namePtr);
      runtime._check(m._ple_kernel_path_from_name(namePtr, runtime._slot));
      path = m.HEAPU32[runtime._slot >> 2];
    } finally {
      m._free(namePtr);
    }
    const maxBatch = options.maxBatch ?? 256;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw invalid(`maxBatch must be a positive integer, not ${maxBatch}`);
    runtime._check(m._ple_web_session_create(model._live(), maxBatch, path, options.recordGates ? 1 : 0, runtime._slot));
    super(runtime, m.HEAPU32[runtime._slot >> 2], m._ple_session_close, 'session');
    this._model = model;
    this._numTasks = model.tasks.length;
    runtime._check(m._ple_web_session_info(this._handle, runtime._slot));
    const info = m.HEAPU32.slice(runtime._slot >> 2, (runtime._slot >> 2) + 4);
    /** The kernel path the session runs ("wasmrelaxed", "wasmsimd", "reference"). */
    this.kernelPath = m.UTF8ToString(m._ple_kernel_path_name(info[0]));
    this.maxBatch = info[1];
    /** Bytes of activations the session allocated once. */
    this.arenaBytes = info[2];
  }

  /**
   * Scores candidates: `candidates` gives every candidate-scope feature ({name: value}) and the
   * extras the score reads. options.request: the Request (models with request-scope features);
   * options.count: the number of candidates (default: read from the features); options.outputs /
   * options.scores: Float32Arrays to fill instead of new ones (scores: false skips the score).
   * Returns {count, outputs (count x tasks, row-major in task order), scores (or null)}.
   */
  run(candidates, options = {}) {
    const handle = this._live();
    const runtime = this._runtime;
    const m = runtime.m;
    const count = options.count ?? inferCount(this._model, candidates);
    const request = options.request ? options.request._handle : 0;
    if (options.request && !request) throw closedError('request');
    const wantScores = options.scores === undefined ? this._model.hasScore : options.scores !== false;
    const outputsCount = count * this._numTasks;
    const outputs = options.outputs ?? new Float32Array(outputsCount);
    const scores = !wantScores ? null : options.scores instanceof Float32Array ? options.scores : new Float32Array(count);
    if (outputs.length < outputsCount || (scores && scores.length < count)) throw invalid('the output arrays are too short');
    const plan = planFeatures(this._model, candidates, count, runtime._layout.size);
    runtime._scratch.reserve(plan.bytes + 4 * outputsCount + 4 * count + 16);
    const array = writeFeatures(runtime, this._model, plan, runtime._scratch);
    const outPtr = runtime._scratch.take(4 * outputsCount, 4);
    const scoresPtr = scores ? runtime._scratch.take(4 * count, 4) : 0;
    runtime._check(m._ple_session_run_features(handle, request, array, plan.items.length, count, outPtr, outputsCount,
      scoresPtr, scores ? count : 0));
    outputs.set(m.HEAPF32.subarray(outPtr >> 2, (outPtr >> 2) + outputsCount));
    if (scores) scores.set(m.HEAPF32.subarray(scoresPtr >> 2, (scoresPtr >> 2) + count));
    return { count, outputs, scores };
  }

  /** Turns gate recording on or off (off frees its buffers). */
  setGateRecording(enable) {
    this._runtime._check(this._runtime.m._ple_session_set_gate_recording(this._live(), enable ? 1 : 0));
  }

  /** The last run's softmax weights of one gate: {rows, experts, weights (rows x experts)}. */
  gateWeights(level, gate) {
    const handle = this._live();
    const runtime = this._runtime;
    const m = runtime.m;
    const rowsPtr = runtime._slot, expertsPtr = runtime._slot + 4;
    runtime._check(m._ple_session_get_gate_weights(handle, level, gate, 0, 0, rowsPtr, expertsPtr));
    const rows = m.HEAPU32[rowsPtr >> 2], experts = m.HEAPU32[expertsPtr >> 2];
    runtime._scratch.reserve(4 * rows * experts + 4);
    const ptr = runtime._scratch.take(4 * rows * experts, 4);
    runtime._check(m._ple_session_get_gate_weights(handle, level, gate, ptr, rows * experts, rowsPtr, expertsPtr));
    return { rows, experts, weights: m.HEAPF32.slice(ptr >> 2, (ptr >> 2) + rows * experts) };
  }

}

export { PleError };
