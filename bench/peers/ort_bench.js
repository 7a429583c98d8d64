#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node) peer: latency, session cost, memory, outputs.
//
//   node ort_bench.js --model DIR/model-f32.onnx --inputs DIR --batches 1,50,200,1000 \
//        --threads 1 --runs N --warmup M [--max-seconds S] [--peer NAME] [--out FILE.json]
//        [--optimized-out F]   (F: the graph after ORT's optimizations, to see its fusions)
//   node ort_bench.js --overhead --model identity.onnx [--runs N --warmup M] [--out FILE.json]
//   node ort_bench.js --score OUT.json --model X.onnx --inputs DIR [--alone K] [--threads 1]
//
// Latency: sessions and input tensors are made once; per batch B the inputs are the first B
// rows of DIR/inputs.npz (graph input names, written by export.py). Only `await
// session.run(feeds)` is timed (process.hrtime.bigint), which includes the binding's own cost
// (the native run is synchronous, wrapped in setImmediate and a Promise): what a node caller
// pays. Session: options intraOpNumThreads = --threads, interOpNumThreads = 1, executionMode
// 'sequential', graphOptimizationLevel 'all'. The first creation in the process is timed, then
// the runs; a second creation is timed after the runs and released, so it does not add to the
// memory figures. Memory: process.memoryUsage().rss before the first creation, after it and
// after the runs; peak_rss_bytes = VmHWM of /proc/self/status after the runs.
// --overhead: the per-call cost of the binding: session.run on a 1-float Identity graph.
// --score: writes {"tasks", "batch": outputs of all N candidates in one run [N][T],
// "alone": outputs of candidates 0..K-1 each run alone [K][T]} for accuracy.py.
// Output: one JSON object on stdout (or --out), the rows of build/peers/peers.json's contract.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const HERE = __dirname;
const REPO = path.resolve(HERE, '..', '..');

function parseArgs(argv) {
  const args = {batches: '1,50,200,1000', threads: '1', runs: '200', warmup: '20', alone: '50',
    maxSeconds: '10'};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`ort_bench.js: unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'overhead') { args.overhead = true; continue; }
    if (i + 1 >= argv.length) throw new Error(`ort_bench.js: ${a} needs a value`);
    args[key.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[++i];
  }
  return args;
}

function loadOrt() {
  // Installed by setup.sh into build/peers/node_modules; ORT_NODE_MODULES overrides.
  const dirs = [process.env.ORT_NODE_MODULES, path.join(REPO, 'build', 'peers', 'node_modules')];
  for (const dir of dirs) {
    if (dir && fs.existsSync(path.join(dir, 'onnxruntime-node'))) {
      return require(path.join(dir, 'onnxruntime-node'));
    }
  }
  return require('onnxruntime-node');
}

// ---- .npz (numpy's savez: a zip of .npy files, stored or deflated, zip64 headers) --------

const NPY_TYPES = {
  '<f4': [Float32Array, 'float32'], '<f8': [Float64Array, 'float64'],
  '<i8': [BigInt64Array, 'int64'], '<i4': [Int32Array, 'int32'], '|u1': [Uint8Array, 'uint8'],
  '|i1': [Int8Array, 'int8'],
};

function parseNpy(buf, name) {
  if (buf.readUInt32BE(0) !== 0x934e554d || buf.toString('latin1', 4, 6) !== 'PY') {
    throw new Error(`${name}: not a .npy array`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${name}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
      .filter((s) => s).map(Number);
  const type = NPY_TYPES[descr];
  if (!type) throw new Error(`${name}: dtype ${descr} not supported`);
  const [Ctor, ortType] = type;
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(start + headerLen, start + headerLen + count * Ctor.BYTES_PER_ELEMENT);
  const data = new Ctor(count);  // copied: aligned, owns its buffer
  Buffer.from(data.buffer).set(bytes);
  return {data, shape, type: ortType};
}

function readNpz(file) {
  const zip = fs.readFileSync(file);
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) --eocd;
  if (eocd < 0) throw new Error(`${file}: not a zip file`);
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const arrays = {};
  for (let e = 0; e < entries; ++e) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = zip.readUInt16LE(p + 10);
    let compressed = zip.readUInt32LE(p + 20);
    let size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28), extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    let local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 64-bit values of the 32-bit fields that are 0xFFFFFFFF, in order.
    for (let x = p + 46 + nameLen; x < p + 46 + nameLen + extraLen;) {
      const id = zip.readUInt16LE(x), len = zip.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (size === 0xffffffff) { size = Number(zip.readBigUInt64LE(q)); q += 8; }
        if (compressed === 0xffffffff) { compressed = Number(zip.readBigUInt64LE(q)); q += 8; }
        if (local === 0xffffffff) { local = Number(zip.readBigUInt64LE(q)); q += 8; }
      }
      x += 4 + len;
    }
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    let raw = zip.subarray(dataStart, dataStart + compressed);
    if (method === 8) raw = zlib.inflateRawSync(raw);
    else if (method !== 0) throw new Error(`${file}: ${name}: compression ${method}`);
    if (raw.length !== size) throw new Error(`${file}: ${name}: ${raw.length} bytes, expected ${size}`);
    arrays[name.replace(/\.npy$/, '')] = parseNpy(raw, `${file}:${name}`);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return arrays;
}

// ---- measurements -------------------------------------------------------------------------

function vmHwmBytes() {
  const m = /VmHWM:\s*(\d+)\s*kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

function stats(timesUs, batch) {
  const s = Float64Array.from(timesUs).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const p50 = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return {min_us: s[0], mean_us: mean, p50_us: p50, p95_us: q(0.95), p99_us: q(0.99),
    max_us: s[s.length - 1], runs: s.length, candidates_per_s: batch * 1e6 / p50};
}

function sessionOptions(threads, extra) {
  return Object.assign({
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', logSeverityLevel: 3,
  }, extra || {});
}

// The first `rows` rows of every graph input.
function feedsFor(ort, arrays, inputNames, rows) {
  const feeds = {};
  for (const name of inputNames) {
    const a = arrays[name];
    if (!a) throw new Error(`inputs.npz has no array '${name}' (graph inputs: ${inputNames})`);
    const rowLen = a.shape.slice(1).reduce((x, y) => x * y, 1);
    if (rows > a.shape[0]) throw new Error(`'${name}': ${a.shape[0]} rows, batch ${rows} asked`);
    feeds[name] = new ort.Tensor(a.type, a.data.slice(0, rows * rowLen), [rows, ...a.shape.slice(1)]);
  }
  return feeds;
}

function feedsForRow(ort, arrays, inputNames, row) {
  const feeds = {};
  for (const name of inputNames) {
    const a = arrays[name];
    const rowLen = a.shape.slice(1).reduce((x, y) => x * y, 1);
    feeds[name] = new ort.Tensor(a.type, a.data.slice(row * rowLen, (row + 1) * rowLen), [1, ...a.shape.slice(1)]);
  }
  return feeds;
}

// `warmup` untimed runs, then `runs` timed ones; both stop early once their time passes
// maxSeconds (warmup: a fifth of it), keeping at least 5 timed runs, so batch 1000 of a large
// model does not take minutes. The row's `runs` says how many were timed.
async function timeRuns(session, feeds, runs, warmup, maxSeconds) {
  const budgetNs = BigInt(Math.round(maxSeconds * 1e9));
  let start = process.hrtime.bigint();
  for (let i = 0; i < warmup && process.hrtime.bigint() - start < budgetNs / 5n; ++i) {
    await session.run(feeds);
  }
  const times = [];
  start = process.hrtime.bigint();
  while (times.length < runs && (times.length < 5 || process.hrtime.bigint() - start < budgetNs)) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return times;
}

function peerName(modelFile) {
  const base = path.basename(modelFile, '.onnx');
  return 'onnxruntime-' + (base.includes('int8') ? 'int8' : base.includes('f16') ? 'f16' : 'f32');
}

async function latencyMode(ort, args) {
  const threads = Number(args.threads);
  const meta = JSON.parse(fs.readFileSync(path.join(args.inputs, 'meta.json'), 'utf8'));
  const arrays = readNpz(path.join(args.inputs, 'inputs.npz'));
  const batches = args.batches.split(',').map(Number);
  const peer = args.peer || peerName(args.model);
  const rssBefore = process.memoryUsage().rss;
  let t0 = process.hrtime.bigint();
  const extra = args.optimizedOut ? {optimizedModelFilePath: args.optimizedOut} : {};
  const session = await ort.InferenceSession.create(args.model, sessionOptions(threads, extra));
  const createFirstMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rssAfterCreate = process.memoryUsage().rss;
  const allFeeds = batches.map((b) => feedsFor(ort, arrays, session.inputNames, b));
  const latency = [];
  for (let i = 0; i < batches.length; ++i) {
    const times = await timeRuns(session, allFeeds[i], Number(args.runs), Number(args.warmup),
        Number(args.maxSeconds));
    latency.push(Object.assign({peer, model: meta.model, batch: batches[i], threads},
        stats(times, batches[i])));
  }
  const rssAfterRuns = process.memoryUsage().rss;
  const peak = vmHwmBytes();
  t0 = process.hrtime.bigint();
  const again = await ort.InferenceSession.create(args.model, sessionOptions(threads));
  const createAgainMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await again.release();
  await session.release();
  return {
    latency,
    session: [{peer, model: meta.model, threads, create_first_ms: createFirstMs,
      create_again_ms: createAgainMs, rss_before_bytes: rssBefore,
      rss_after_create_bytes: rssAfterCreate, rss_after_runs_bytes: rssAfterRuns,
      peak_rss_bytes: peak, model_file_bytes: fs.statSync(args.model).size}],
  };
}

async function overheadMode(ort, args) {
  const session = await ort.InferenceSession.create(args.model, sessionOptions(1));
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', new Float32Array([1]), [1])};
  const times = await timeRuns(session, feeds, Number(args.runs), Number(args.warmup),
      Number(args.maxSeconds));
  await session.release();
  const s = stats(times, 1);
  return {overhead_us_p50: s.p50_us, overhead: s};
}

async function scoreMode(ort, args) {
  const meta = JSON.parse(fs.readFileSync(path.join(args.inputs, 'meta.json'), 'utf8'));
  const arrays = readNpz(path.join(args.inputs, 'inputs.npz'));
  const session = await ort.InferenceSession.create(args.model, sessionOptions(Number(args.threads)));
  const n = meta.candidates, tasks = meta.tasks.length, alone = Math.min(Number(args.alone), n);
  const toRows = (t, rows) => {
    const out = [];
    for (let r = 0; r < rows; ++r) out.push(Array.from(t.data.subarray(r * tasks, (r + 1) * tasks)));
    return out;
  };
  const out = session.outputNames[0];
  const batch = toRows((await session.run(feedsFor(ort, arrays, session.inputNames, n)))[out], n);
  const aloneRows = [];
  for (let r = 0; r < alone; ++r) {
    aloneRows.push(toRows((await session.run(feedsForRow(ort, arrays, session.inputNames, r)))[out], 1)[0]);
  }
  await session.release();
  fs.writeFileSync(args.score, JSON.stringify({model: meta.model, file: args.model,
    tasks: meta.tasks, batch, alone: aloneRows}));
  return {score: args.score, candidates: n, alone};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.model) throw new Error('ort_bench.js: give --model');
  const ort = loadOrt();
  let result;
  if (args.overhead) result = await overheadMode(ort, args);
  else if (!args.inputs) throw new Error('ort_bench.js: give --inputs DIR (export.py --out)');
  else if (args.score) result = await scoreMode(ort, args);
  else result = await latencyMode(ort, args);
  const text = JSON.stringify(result, null, 1);
  if (args.out) fs.writeFileSync(args.out, text + '\n');
  else process.stdout.write(text + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
