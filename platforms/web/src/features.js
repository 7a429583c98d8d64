// Lays out a call's features as the C API's ple_feature_values array (ple.h) in the runtime's
// scratch memory: the values a caller gives per feature (README.md, "Feature values") become
// floats, int64 ids and per-row lengths; raw values of a feature with an encoder are encoded
// in place by the model's encoder (ple_model_encode_*).
//
// Two passes, so that the scratch grows (and the memory with it) before any view is taken:
// plan() checks and measures every feature, write() fills the scratch the plan reserved.

import { invalid } from './errors.js';

const DENSE = 0, SPARSE = 1, SEQUENCE = 2;
const ENCODER_NONE = 0, ENCODER_STRING_VOCABULARY = 1, ENCODER_HASH_STRING = 3, ENCODER_BOUNDARIES = 5;
const utf8 = new TextEncoder();

function isNumberArray(v) {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

// {ids, ...} (or {ids, lengths}): ids given as such, not raw values.
function isIdsObject(v) {
  return v !== null && typeof v === 'object' && !isNumberArray(v) && 'ids' in v;
}

// Flattens one level of nesting: [[a, b], [c, d]] -> [a, b, c, d] (dense rows).
function flattenRows(value) {
  if (!Array.isArray(value) || value.length === 0 || !isNumberArray(value[0])) return value;
  const flat = [];
  for (const row of value) for (const x of row) flat.push(x);
  return flat;
}

// A sequence feature's rows: [[ids...], ...], or {ids, lengths}; a request's one row may be a
// flat array ([] is then one empty row). The C API reads one length per row: there must be
// exactly `count`.
function sequenceRows(name, value, count) {
  const rows = sequenceRowsAsGiven(name, value, count);
  if (rows.lengths.length !== count) {
    throw invalid(`feature "${name}": ${rows.lengths.length} sequence rows for ${count} row${count === 1 ? '' : 's'}`);
  }
  return rows;
}

function sequenceRowsAsGiven(name, value, count) {
  if (isIdsObject(value) && 'lengths' in value) return { values: value, lengths: Uint32Array.from(value.lengths) };
  if (!Array.isArray(value)) throw invalid(`feature "${name}": a sequence takes an array of rows or {ids, lengths}`);
  if ((value.length > 0 && !isNumberArray(value[0])) || (value.length === 0 && count === 1)) {
    if (count !== 1) throw invalid(`feature "${name}": give one array per candidate (or {ids, lengths})`);
    return { values: value, lengths: Uint32Array.of(value.length) };
  }
  const lengths = new Uint32Array(value.length);
  const values = [];
  value.forEach((row, r) => {
    lengths[r] = row.length;
    for (const x of row) values.push(x);
  });
  return { values, lengths };
}

function asList(value) {
  return isNumberArray(value) ? value : [value];
}

// How one feature's value becomes C arguments, and the scratch bytes it needs.
function planFeature(model, name, value, count) {
  const spec = model._featureSpec(name);
  if (!spec) throw invalid(`"${name}" is neither a feature nor an extra of this model`);
  spec.nameBytes ??= utf8.encode(name);  // once per feature, not per call
  const nameBytes = spec.nameBytes;
  const item = { spec, nameBytes, floats: null, ids: null, raw: null, lengths: null, bytes: nameBytes.length + 1 };
  if (spec.kind === DENSE) {
    item.floats = asList(flattenRows(value));
    item.bytes += 4 * item.floats.length;
    return item;
  }
  let values = value;
  if (spec.kind === SEQUENCE) {
    const rows = sequenceRows(name, value, count);
    values = rows.values;
    item.lengths = rows.lengths;
    item.bytes += 4 * item.lengths.length;
  }
  // {ids: [...]} gives ids even where the feature has an encoder.
  const explicitIds = isIdsObject(values);
  const list = asList(explicitIds ? values.ids : values);
  if (spec.encoder !== ENCODER_NONE && !explicitIds) {
    item.raw = list;
    // Strings: pointers, lengths and up to 3 UTF-8 bytes per UTF-16 unit; numbers: int64 or float.
    if (list.length > 0 && typeof list[0] === 'string') {
      let text = 0;
      for (const s of list) text += typeof s === 'string' ? 3 * s.length : 0;
      item.bytes += 8 * list.length + text;
    } else {
      item.bytes += 8 * list.length;
    }
  } else {
    item.ids = list;
  }
  item.bytes += 8 * list.length;
  return item;
}

/** Checks and measures `features` ({name: value}) for `count` rows: the plan write() fills. */
export function planFeatures(model, features, count, layoutSize) {
  if (!features || typeof features !== 'object') throw invalid('features must be an object {name: value}');
  const items = [];
  let bytes = 0;
  for (const [name, value] of Object.entries(features)) {
    const item = planFeature(model, name, value, count);
    items.push(item);
    bytes += item.bytes + 8 * 6;  // alignment slack for each of the item's areas
  }
  return { items, bytes: bytes + items.length * layoutSize + 8 };
}

// int64 little-endian from a safe integer or a bigint.
function writeInt64(m, ptr, v, name) {
  let lo, hi;
  if (typeof v === 'bigint') {
    lo = Number(BigInt.asUintN(32, v));
    hi = Number(BigInt.asIntN(32, v >> 32n));
  } else if (Number.isSafeInteger(v)) {
    hi = Math.floor(v / 4294967296);
    lo = v - hi * 4294967296;
  } else {
    throw invalid(`feature "${name}": ${v} is not an integer id`);
  }
  m.HEAPU32[ptr >> 2] = lo;
  m.HEAP32[(ptr >> 2) + 1] = hi;
}

// Encodes item.raw with the model's encoder into `idsPtr`.
function encodeRaw(runtime, model, item, scratch, idsPtr) {
  const m = runtime.m;
  const { raw, spec } = item;
  const name = spec.name;
  const n = raw.length;
  if (n > 0 && typeof raw[0] === 'string') {
    const pointers = scratch.take(4 * n, 4);
    const lengths = scratch.take(4 * n, 4);
    for (let i = 0; i < n; ++i) {
      const s = raw[i];
      if (typeof s !== 'string') throw invalid(`feature "${name}": value ${i} is not a string`);
      const at = scratch.take(3 * s.length, 1);
      const { written } = utf8.encodeInto(s, m.HEAPU8.subarray(at, at + 3 * s.length));
      m.HEAPU32[(pointers >> 2) + i] = at;
      m.HEAPU32[(lengths >> 2) + i] = written;
    }
    runtime._check(m._ple_model_encode_strings(model._handle, spec.index, pointers, lengths, n, idsPtr));
  } else if (spec.encoder === ENCODER_BOUNDARIES) {
    const floats = scratch.take(4 * n, 4);
    for (let i = 0; i < n; ++i) m.HEAPF32[(floats >> 2) + i] = raw[i];
    runtime._check(m._ple_model_encode_floats(model._handle, spec.index, floats, n, idsPtr));
  } else if (spec.encoder === ENCODER_STRING_VOCABULARY || spec.encoder === ENCODER_HASH_STRING) {
    throw invalid(`feature "${name}": its encoder takes strings`);
  } else {
    const ints = scratch.take(8 * n, 8);
    for (let i = 0; i < n; ++i) writeInt64(m, ints + 8 * i, raw[i], name);
    runtime._check(m._ple_model_encode_ints(model._handle, spec.index, ints, n, idsPtr));
  }
}

/** Fills the scratch (reserved for plan.bytes and more) with the plan's ple_feature_values
 * array and data; returns the array's address. */
export function writeFeatures(runtime, model, plan, scratch) {
  const m = runtime.m;
  const layout = runtime._layout;
  const array = scratch.take(layout.size * plan.items.length, 8);
  m.HEAPU8.fill(0, array, array + layout.size * plan.items.length);
  plan.items.forEach((item, k) => {
    const s = array + k * layout.size;
    const namePtr = scratch.take(item.nameBytes.length + 1, 1);
    m.HEAPU8.set(item.nameBytes, namePtr);
    m.HEAPU8[namePtr + item.nameBytes.length] = 0;
    m.HEAPU32[(s + layout.name) >> 2] = namePtr;
    if (item.floats) {
      const n = item.floats.length;
      if (Array.isArray(item.floats)) {
        for (let i = 0; i < n; ++i) {
          if (typeof item.floats[i] !== 'number') throw invalid(`feature "${item.spec.name}": value ${i} is not a number`);
        }
      }
      const p = scratch.take(4 * n, 4);
      m.HEAPF32.set(item.floats, p >> 2);
      m.HEAPU32[(s + layout.values) >> 2] = p;
      m.HEAPU32[(s + layout.numValues) >> 2] = n;
      return;
    }
    const list = item.raw ?? item.ids;
    const n = list.length;
    const ids = scratch.take(8 * n, 8);
    if (item.raw) {
      encodeRaw(runtime, model, item, scratch, ids);
    } else {
      for (let i = 0; i < n; ++i) writeInt64(m, ids + 8 * i, list[i], item.spec.name);
    }
    m.HEAPU32[(s + layout.ids) >> 2] = ids;
    m.HEAPU32[(s + layout.numIds) >> 2] = n;
    if (item.lengths) {
      const p = scratch.take(4 * item.lengths.length, 4);
      m.HEAPU32.set(item.lengths, p >> 2);
      m.HEAPU32[(s + layout.lengths) >> 2] = p;
    }
  });
  return array;
}

/** The number of candidates `features` describe (from the first candidate-scope feature). */
export function inferCount(model, features) {
  for (const [name, value] of Object.entries(features ?? {})) {
    const spec = model._featureSpec(name);
    if (!spec || spec.scope !== 0) continue;
    if (spec.kind === SEQUENCE) {
      if (isIdsObject(value) && 'lengths' in value) return value.lengths.length;
      return Array.isArray(value) ? value.length : 1;
    }
    if (spec.kind === SPARSE) {
      const list = isIdsObject(value) ? value.ids : value;
      return isNumberArray(list) ? list.length : 1;
    }
    if (Array.isArray(value) && value.length > 0 && isNumberArray(value[0])) return value.length;
    return isNumberArray(value) ? Math.floor(value.length / Math.max(1, spec.width)) : 1;
  }
  throw invalid('cannot tell the number of candidates: give options.count');
}
