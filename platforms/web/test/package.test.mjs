// The web package under node (node:test): run by platforms/web/test/run.sh with
//   PLE_WEB_PACKAGE   the npm-ready folder platforms/web/build.sh made
//   PLE_WEB_FIXTURES  the folder platforms/web/test/make_fixtures.sh made (native expectations)
// and node --expose-gc (the FinalizationRegistry test).
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const packageDir = process.env.PLE_WEB_PACKAGE;
const fixtures = process.env.PLE_WEB_FIXTURES;
if (!packageDir || !fixtures) throw new Error('set PLE_WEB_PACKAGE and PLE_WEB_FIXTURES (platforms/web/test/run.sh)');
const ple = await import(pathToFileURL(join(packageDir, 'ple.js')).href);

const fixture = (name) => readFile(join(fixtures, name));
const modules = { simd: await ple.load({ simd: true }), nosimd: await ple.load({ simd: false }) };

// ple-run's JSON lines input: the request's features, then one line per candidate.
async function readRequest(name, model) {
  const lines = (await fixture(name)).toString().trim().split('\n').map((line) => JSON.parse(line));
  const candidates = lines.slice(1);
  const features = {};
  const known = new Set([...model.features.filter((f) => f.scope === 'candidate').map((f) => f.name), ...model.extras]);
  for (const key of Object.keys(candidates[0])) if (known.has(key)) features[key] = candidates.map((c) => c[key]);
  return { request: lines[0].request, features, ids: candidates.map((c) => c.id) };
}

// Native ple-run's CSV: request,rank,candidate,id,score,task... (a model without a score: no rank
// or score column, candidates in input order); float32 printed with %.9g.
async function readExpected(name) {
  const [header, ...rows] = (await fixture(name)).toString().trim().split('\n').map((line) => line.split(','));
  const column = Object.fromEntries(header.map((h, i) => [h, i]));
  const tasks = header.map((h, i) => i).filter((i) => !['request', 'rank', 'candidate', 'id', 'score'].includes(header[i]));
  return {
    tasks: tasks.map((i) => header[i]),
    rows: rows.map((r) => ({ candidate: +r[column.candidate], id: r[column.id],
      score: column.score === undefined ? null : Math.fround(+r[column.score]), outputs: tasks.map((i) => Math.fround(+r[i])) })),
  };
}

function bits(x) {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

async function checkAgainstNative(runtime, modelFile, requestFile, expectedFile, kernels) {
  const model = runtime.openModel(await fixture(modelFile));
  const { request: requestValues, features, ids } = await readRequest(requestFile, model);
  const expected = await readExpected(expectedFile);
  assert.deepEqual(model.tasks.map((t) => t.name), expected.tasks);
  const session = model.createSession({ kernels, maxBatch: ids.length });
  const request = model.createRequest().set(requestValues);
  const { outputs, scores } = session.run(features, { request });
  const order = scores ? runtime.topK(scores, scores.length) : Uint32Array.from(ids.keys());
  const tasks = model.tasks.length;
  expected.rows.forEach((row, rank) => {
    assert.equal(order[rank], row.candidate, `rank ${rank + 1}`);
    assert.equal(ids[order[rank]], row.id);
    if (row.score === null) assert.equal(scores, null);
    else assert.equal(bits(scores[row.candidate]), bits(row.score), `${row.id} score on ${kernels}`);
    row.outputs.forEach((v, t) => assert.equal(bits(outputs[row.candidate * tasks + t]), bits(v), `${row.id} task ${t}`));
  });
  request.close();
  session.close();
  model.close();
}

describe('loading', () => {
  it('picks the SIMD module where the engine has SIMD128, and each module reports its paths', async () => {
    assert.equal(ple.hasSimd(), true);  // node 18 and 20 have SIMD128
    const auto = await ple.load();
    assert.equal(auto.simd, true);
    assert.deepEqual(modules.simd.kernelPaths, ['reference', 'wasmsimd']);
    assert.deepEqual(modules.nosimd.kernelPaths, ['reference']);
    assert.match(modules.simd.version, /^\d+\.\d+\.\d+$/);
  });

  it('loads the relaxed module only where the relaxed dot product probe passes', async () => {
    // node 18 has no relaxed SIMD; node 20 has it only behind a flag, and computes the dot
    // product wrongly there (twice the sum: measured): the probe must fail on both.
    const major = Number(process.versions.node.split('.')[0]);
    if (major <= 20) assert.equal(ple.hasExactRelaxedDot(), false);
    assert.equal((await ple.load()).variant, ple.hasExactRelaxedDot() ? 'relaxed' : 'simd');
    assert.equal(modules.simd.variant, 'simd');
    assert.equal(modules.nosimd.variant, 'nosimd');
    if (!ple.hasExactRelaxedDot()) {
      // Asked for anyway: an engine without relaxed SIMD refuses the module, and load() says which.
      await assert.rejects(ple.load({ simd: 'relaxed' }), /cannot instantiate .*ple-relaxed\.wasm/);
    }
  });

  it('a missing or corrupt module rejects load() with the file named', { timeout: 20000 }, async () => {
    const folder = await mkdtemp(join(tmpdir(), 'ple-load-'));
    try {
      await assert.rejects(ple.load({ baseUrl: pathToFileURL(folder).href }), /ple-simd\.js/);
      await copyFile(join(packageDir, 'ple-simd.js'), join(folder, 'ple-simd.js'));
      await copyFile(join(packageDir, 'package.json'), join(folder, 'package.json'));  // "type": "module" (node 18)
      await writeFile(join(folder, 'ple-simd.wasm'), 'not wasm');
      await assert.rejects(ple.load({ baseUrl: pathToFileURL(folder).href }), /cannot instantiate .*ple-simd\.wasm/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

for (const [moduleName, runtime] of Object.entries(modules)) {
  describe(`${moduleName} module`, () => {
    for (const kernels of runtime.kernelPaths) {
      it(`float32 example on ${kernels}: ranking and scores bit-identical to native ple-run --kernels reference`, () =>
        checkAgainstNative(runtime, 'feed.ple', 'request.jsonl', 'feed.expected.csv', kernels));
      it(`all-int8 example on ${kernels}: bit-identical to native ple-run`, () =>
        checkAgainstNative(runtime, 'feed-int8all.ple', 'request.jsonl', 'feed-int8all.expected.csv', kernels));
      it(`narrow all-int8 example on ${kernels}: bit-identical to native ple-run`, () =>
        checkAgainstNative(runtime, 'feed-int8narrow.ple', 'request.jsonl', 'feed-int8narrow.expected.csv', kernels));
      it(`int8 files on 130 candidates (a request with an empty history) on ${kernels}: bit-identical to native`, async () => {
        await checkAgainstNative(runtime, 'feed-int8all.ple', 'request130.jsonl', 'feed-int8all.request130.expected.csv', kernels);
        await checkAgainstNative(runtime, 'feed-int8narrow.ple', 'request130.jsonl', 'feed-int8narrow.request130.expected.csv', kernels);
      });
      it(`every conformance bundle's narrow all-int8 file on ${kernels}: bit-identical to native ple-run`, async () => {
        const bundles = (await readdir(join(fixtures, 'bundles'))).filter((f) => f.endsWith('.ple')).map((f) => f.slice(0, -4));
        assert.ok(bundles.length > 0);
        for (const b of bundles) {
          await checkAgainstNative(runtime, `bundles/${b}.ple`, `bundles/${b}.jsonl`, `bundles/${b}.expected.csv`, kernels);
        }
      });
      it(`raw values through the model's encoders on ${kernels} (strings, int64 vocabulary, boundaries)`, () =>
        checkAgainstNative(runtime, 'feed-encoded.ple', 'raw_request.jsonl', 'feed-encoded.expected.csv', kernels));
      it(`a sequence of strings hashed by its encoder on ${kernels} (an empty string, non-ASCII, a repeat)`, () =>
        checkAgainstNative(runtime, 'feed-encoded-sequence.ple', 'raw_sequence_request.jsonl', 'feed-encoded-sequence.expected.csv', kernels));
    }
  });
}

describe('API', () => {
  const runtime = modules.simd;
  const open = async (name = 'feed.ple') => runtime.openModel(await fixture(name));

  it('describes the model: features, extras, tasks, score, levels', async () => {
    const model = await open('feed-encoded.ple');
    const byName = Object.fromEntries(model.features.map((f) => [f.name, f]));
    assert.equal(byName.video_category.encoder, 'string-vocabulary');
    assert.equal(byName.user_id.encoder, 'int-vocabulary');
    assert.equal(byName.hour.encoder, 'boundaries');
    assert.equal(byName.history.kind, 'sequence');
    assert.equal(byName.user_id.scope, 'request');
    assert.deepEqual(model.extras, ['video_len']);
    assert.deepEqual(model.tasks.map((t) => t.type), ['binary', 'binary', 'binary']);
    assert.equal(model.hasScore, true);
    assert.equal(model.levels.length, 2);
    for (const level of model.levels) for (const gate of level.gates) assert.ok(gate.experts.length >= 1);
    model.close();
  });

  it('ids, typed arrays and {ids, lengths} give the same outputs as plain arrays', async () => {
    const model = await open();
    const session = model.createSession({ maxBatch: 8 });
    const request = model.createRequest().set({ user_id: 168, history: [368, 365, 260], hour: 11, user_activity: 3.371 });
    const plain = session.run({ video_id: [233, 36], video_category: [5, 3], video_quality: [[0.471, 0.56], [0.693, 0.264]], video_len: [6.2, 53.1] }, { request });
    const typed = session.run({ video_id: BigInt64Array.of(233n, 36n), video_category: { ids: Int32Array.of(5, 3) },
      video_quality: Float32Array.of(0.471, 0.56, 0.693, 0.264), video_len: Float32Array.of(6.2, 53.1) }, { request });
    assert.deepEqual(typed.outputs, plain.outputs);
    assert.deepEqual(typed.scores, plain.scores);
    const request2 = model.createRequest().set({ user_id: [168], history: { ids: [368, 365, 260], lengths: [3] }, hour: [11], user_activity: [3.371] });
    const again = session.run({ video_id: [233, 36], video_category: [5, 3], video_quality: [[0.471, 0.56], [0.693, 0.264]], video_len: [6.2, 53.1] }, { request: request2 });
    assert.deepEqual(again.outputs, plain.outputs);
    // An empty sequence: [] is the request's one empty row, as {ids: [], lengths: [0]}; a
    // lengths count other than the rows' is refused (the C API would read past it).
    const one233 = { video_id: [233], video_category: [5], video_quality: [[0.471, 0.56]], video_len: [6.2] };
    const empty = session.run(one233, { request: request.set({ user_id: 168, history: [], hour: 11, user_activity: 3.371 }) });
    const emptyIds = session.run(one233, { request: request2.set({ user_id: 168, history: { ids: [], lengths: [0] }, hour: 11, user_activity: 3.371 }) });
    assert.deepEqual(empty.outputs, emptyIds.outputs);
    assert.throws(() => request2.set({ user_id: 168, history: { ids: [1, 2], lengths: [1, 1] }, hour: 11, user_activity: 3.371 }),
      (e) => e instanceof ple.PleError && e.statusName === 'INVALID_ARGUMENT' && /history.*2 sequence rows for 1 row/.test(e.message));
    request.set({ user_id: 168, history: [368, 365, 260], hour: 11, user_activity: 3.371 });
    // A candidate's outputs do not depend on its batch.
    const one = session.run({ video_id: [36], video_category: [3], video_quality: [[0.693, 0.264]], video_len: [53.1] }, { request });
    assert.deepEqual(one.outputs, plain.outputs.slice(3, 6));
    // Caller-given output arrays are filled, and scores: false skips the score.
    const outputs = new Float32Array(6);
    const filled = session.run({ video_id: [233, 36], video_category: [5, 3], video_quality: [[0.471, 0.56], [0.693, 0.264]] }, { request, outputs, scores: false });
    assert.equal(filled.outputs, outputs);
    assert.equal(filled.scores, null);
    assert.deepEqual(outputs, plain.outputs);
    for (const o of [request, request2, session, model]) o.close();
  });

  it('gate weights: rows x experts softmax weights of the last run', async () => {
    const model = await open();
    const session = model.createSession({ recordGates: true });
    const request = model.createRequest().set({ user_id: 168, history: [368], hour: 11, user_activity: 3.371 });
    session.run({ video_id: [233, 36, 5], video_category: [5, 3, 1], video_quality: [0.4, 0.5, 0.6, 0.7, 0.8, 0.9], video_len: [1, 2, 3] }, { request });
    const gate = model.levels[0].gates[0];
    const w = session.gateWeights(0, 0);
    assert.equal(w.rows, 3);
    assert.equal(w.experts, gate.experts.length);
    for (let r = 0; r < 3; ++r) {
      const sum = w.weights.slice(r * w.experts, (r + 1) * w.experts).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
    }
    session.setGateRecording(false);
    assert.throws(() => session.gateWeights(0, 0), (e) => e instanceof ple.PleError && e.statusName === 'UNSUPPORTED');
    for (const o of [request, session, model]) o.close();
  });

  it('topK: best first, ties by index, NaN last', () => {
    assert.deepEqual(Array.from(runtime.topK([0.5, 0.9, NaN, 0.9, 0.1], 4)), [1, 3, 0, 4]);
    assert.deepEqual(Array.from(runtime.topK(Float32Array.of(1, 2), 5)), [1, 0]);
  });

  it('errors are PleErrors carrying the C status and message', async () => {
    const isStatus = (name, pattern) => (e) => e instanceof ple.PleError && e.statusName === name && e.status > 0 && pattern.test(e.message);
    assert.throws(() => runtime.openModel(new Uint8Array(100)), isStatus('INVALID_MODEL', /./));
    const bytes = await fixture('feed.ple');
    assert.throws(() => runtime.openModel(bytes.subarray(0, bytes.length >> 1)), isStatus('INVALID_MODEL', /./));
    assert.throws(() => runtime.openModel(bytes, { expectedSha256: new Uint8Array(32) }), isStatus('INTEGRITY', /./));
    assert.throws(() => runtime.openModel('not bytes'), TypeError);
    const model = runtime.openModel(bytes);
    assert.throws(() => model.createSession({ kernels: 'neon' }), isStatus('UNSUPPORTED', /neon/));
    assert.throws(() => model.createSession({ kernels: 'fastest' }), isStatus('INVALID_ARGUMENT', /./));
    const session = model.createSession({ maxBatch: 2 });
    const request = model.createRequest();
    assert.throws(() => request.set({ user_id: 168 }), isStatus('INVALID_ARGUMENT', /./));  // missing features
    assert.throws(() => request.set({ nonsense: 1 }), isStatus('INVALID_ARGUMENT', /nonsense/));
    assert.throws(() => request.set({ user_id: 'u168', history: [1], hour: 1, user_activity: 1 }), isStatus('INVALID_ARGUMENT', /user_id/));
    request.set({ user_id: 168, history: [368], hour: 11, user_activity: 3.371 });
    const three = { video_id: [1, 2, 3], video_category: [1, 2, 3], video_quality: [0, 0, 0, 0, 0, 0], video_len: [1, 2, 3] };
    assert.throws(() => session.run(three, { request }), isStatus('BATCH_TOO_LARGE', /./));
    const two = { video_id: [1, 2], video_category: [1, 2], video_quality: [0, 0], video_len: [1, 2] };
    assert.throws(() => session.run(two, { request }), isStatus('INVALID_ARGUMENT', /video_quality/));
    assert.throws(() => session.run({ ...three, video_quality: ['a', 'b', 'c', 'd', 'e', 'f'] }, { request }), isStatus('INVALID_ARGUMENT', /video_quality/));
    session.close();
    session.close();  // harmless
    assert.throws(() => session.run(three, { request }), /closed/);
    request.close();
    model.close();
    assert.throws(() => model.createSession(), /closed/);
  });

  it('a run in steady state allocates nothing in the module, and the memory keeps its size', async () => {
    const model = await open();
    const session = model.createSession({ maxBatch: 16 });
    const request = model.createRequest().set({ user_id: 168, history: [368, 365], hour: 11, user_activity: 3.371 });
    const batch = { video_id: [233, 36, 5], video_category: [5, 3, 1], video_quality: [0.4, 0.5, 0.6, 0.7, 0.8, 0.9], video_len: [1, 2, 3] };
    const outputs = new Float32Array(9), scores = new Float32Array(3);
    session.run(batch, { request, outputs, scores });  // the first run sizes the scratch
    const m = runtime.m;
    const realMalloc = m._malloc;
    let mallocs = 0;
    m._malloc = (n) => { ++mallocs; return realMalloc(n); };
    const heap = runtime.heapBytesInUse(), memory = runtime.memoryBytes;
    try {
      for (let i = 0; i < 100; ++i) {
        session.run(batch, { request, outputs, scores });
        request.set({ user_id: 168, history: [368, 365], hour: 11, user_activity: 3.371 });
        session.run({ video_id: [233], video_category: [5], video_quality: [0.4, 0.5], video_len: [1] }, { request });
      }
    } finally {
      m._malloc = realMalloc;
    }
    assert.equal(mallocs, 0, 'calls to malloc from the package during runs');
    assert.equal(runtime.heapBytesInUse(), heap, 'heap bytes in use after 200 runs');
    assert.equal(runtime.memoryBytes, memory, 'module memory after 200 runs');
    for (const o of [request, session, model]) o.close();
  });

  it('never hands out a view into the module memory: results survive its growth, runs after growth agree', async () => {
    const model = await open();
    const session = model.createSession({ maxBatch: 16, recordGates: true });
    const request = model.createRequest().set({ user_id: 168, history: [368], hour: 11, user_activity: 3.371 });
    const batch = { video_id: [233, 36], video_category: [5, 3], video_quality: [0.4, 0.5, 0.6, 0.7], video_len: [1, 2] };
    const first = session.run(batch, { request });
    const gates = session.gateWeights(0, 0);
    const top = runtime.topK(first.scores, 2);
    const saved = [Array.from(first.outputs), Array.from(first.scores), Array.from(gates.weights), Array.from(top)];
    const m = runtime.m;
    for (const array of [first.outputs, first.scores, gates.weights, top]) assert.notEqual(array.buffer, m.HEAPU8.buffer);
    // Grow the memory right after the scratch is reserved, as a large allocation inside the call
    // would: a view taken before that point would now be detached.
    const before = runtime.memoryBytes;
    const reserve = runtime._scratch.reserve.bind(runtime._scratch);
    runtime._scratch.reserve = (bytes) => {
      reserve(bytes);
      const p = m._malloc(runtime.memoryBytes);
      assert.ok(p, 'growth allocation');
      m._free(p);
    };
    let second;
    try {
      second = session.run(batch, { request });
    } finally {
      delete runtime._scratch.reserve;
    }
    assert.ok(runtime.memoryBytes > before, 'the memory grew during the run');
    assert.deepEqual([Array.from(first.outputs), Array.from(first.scores), Array.from(gates.weights), Array.from(top)], saved);
    assert.deepEqual(second.outputs, first.outputs);
    assert.deepEqual(session.gateWeights(0, 0).weights, gates.weights);
    for (const o of [request, session, model]) o.close();
  });

  it('an unclosed session is freed once collected (FinalizationRegistry)', async (t) => {
    if (typeof globalThis.gc !== 'function') return t.skip('needs node --expose-gc');
    const model = await open();
    const heap = runtime.heapBytesInUse();
    (() => { model.createSession({ maxBatch: 256 }); })();
    const held = runtime.heapBytesInUse();
    assert.ok(held > heap);
    for (let i = 0; i < 20 && runtime.heapBytesInUse() > heap; ++i) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(runtime.heapBytesInUse(), heap);
    model.close();
  });

  it('mutated model bytes are refused with a PleError or run normally, never crash the module (seeded fuzz)', async () => {
    const good = await fixture('feed.ple');
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    let opened = 0, refused = 0;
    for (let i = 0; i < 300; ++i) {
      const bytes = Uint8Array.from(good);
      const flips = 1 + Math.floor(random() * 8);
      for (let f = 0; f < flips; ++f) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
      const data = random() < 0.1 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      let model;
      try {
        model = runtime.openModel(data);
      } catch (e) {
        assert.ok(e instanceof ple.PleError, `iteration ${i}: ${e}`);
        ++refused;
        continue;
      }
      ++opened;
      try {
        const session = model.createSession({ maxBatch: 4 });
        const request = model.createRequest().set({ user_id: 1, history: [2], hour: 3, user_activity: 0.5 });
        session.run({ video_id: [1], video_category: [1], video_quality: [0.1, 0.2], video_len: [3] }, { request });
        session.close();
        request.close();
      } catch (e) {
        assert.ok(e instanceof ple.PleError, `iteration ${i}: ${e}`);
      }
      model.close();
    }
    assert.ok(refused > 0 && opened + refused === 300);
    // The module still works.
    await checkAgainstNative(runtime, 'feed.ple', 'request.jsonl', 'feed.expected.csv', 'wasmsimd');
  });
});
