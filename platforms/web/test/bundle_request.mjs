// A conformance bundle's inputs (tests/bundles/NAME/data.safetensors) as one ple-run request in
// JSON lines, for the model converted from it: the request-scope features of row 0, then every
// row's candidate-scope features and extras as a candidate ("id": "c<row>"); rows holding a
// non-finite value are left out (JSON has no NaN; the bundles test NaN policies on purpose).
// The features' names, kinds, scopes and widths are the converted model's (read with the web
// package), so framework-importer bundles work alike. Native ple-run and the web package then
// rank the same candidates (platforms/web/test/make_fixtures.sh); the bundle's float64
// expectations are not used: this compares the two implementations bit for bit on the bundles'
// layer shapes.
//   node platforms/web/test/bundle_request.mjs PACKAGE_DIR MODEL.ple BUNDLE_DIR > OUT.jsonl
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [packageDir, modelFile, dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: bundle_request.mjs PACKAGE_DIR MODEL.ple BUNDLE_DIR');
const ple = await import(pathToFileURL(join(packageDir, 'ple.js')).href);
const model = (await ple.load({ simd: false })).openModel(await readFile(modelFile));
const bytes = await readFile(join(dir, 'data.safetensors'));
const headerLength = Number(bytes.readBigUInt64LE(0));
const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
const data = bytes.subarray(8 + headerLength);

// A tensor as {rows, width, row(r): its values as an array}: float32 or int64 (ids well inside 2^53).
function tensor(name) {
  const entry = header[name];
  if (!entry) return null;
  const [begin, end] = entry.data_offsets;
  const raw = data.subarray(begin, end);
  const copy = new Uint8Array(raw);  // aligned
  const values = entry.dtype === 'F32' ? new Float32Array(copy.buffer)
    : entry.dtype === 'I64' ? Array.from(new BigInt64Array(copy.buffer), Number)
      : (() => { throw new Error(`${name}: dtype ${entry.dtype} not handled`); })();
  const width = entry.shape.length > 1 ? entry.shape[1] : 1;
  return { rows: entry.shape[0], width, row: (r) => Array.from(values.slice(r * width, (r + 1) * width)) };
}

// Each feature and extra: name, scope, row -> JSON value. Dense inputs of a model without a
// feature layer are the columns of 'inputs', in the model's order.
const columns = [];
const inputs = tensor('inputs');
let offset = 0;
for (const feature of model.features) {
  const t = tensor(`features.${feature.name}`);
  let value;
  if (!t && inputs && feature.kind === 'dense') {
    const from = offset;
    value = (r) => inputs.row(r).slice(from, from + feature.width);
    offset += feature.width;
  } else if (!t) {
    throw new Error(`${dir}: no tensor for feature '${feature.name}'`);
  } else if (feature.kind === 'sequence') {
    const lengths = tensor(`features.${feature.name}.lengths`);
    value = (r) => t.row(r).slice(0, lengths ? lengths.row(r)[0] : t.width);
  } else {
    value = feature.kind === 'dense' && feature.width > 1 ? (r) => t.row(r) : (r) => t.row(r)[0];
  }
  columns.push({ name: feature.name, scope: feature.scope, value });
}
for (const name of model.extras) {
  const t = tensor(`extras.${name}`);
  columns.push({ name, scope: 'candidate', value: (r) => t.row(r)[0] });
}
const finite = (v) => (Array.isArray(v) ? v.every(Number.isFinite) : Number.isFinite(v));
const rows = header['expected.outputs'].shape[0];
const usable = [...Array(rows).keys()].filter((r) => columns.every((c) => finite(c.value(r))));
const request = Object.fromEntries(columns.filter((c) => c.scope === 'request').map((c) => [c.name, c.value(usable[0])]));
const lines = [JSON.stringify({ request })];
for (const r of usable) {
  const candidate = { id: `c${r}` };
  for (const c of columns) if (c.scope !== 'request') candidate[c.name] = c.value(r);
  lines.push(JSON.stringify(candidate));
}
process.stdout.write(`${lines.join('\n')}\n`);
