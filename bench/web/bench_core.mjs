// The web benchmark's measurement, the same in node and in the browser (bench/web_compare.sh):
// our package's reference and wasmsimd paths against ONNX Runtime Web (wasm backend, one
// thread) on the bench models' exports (bench/peers/export.py: same weights, same candidates).
//
// Per model, precision and batch, every implementation is timed in each round, the order
// rotating per round; a sample is `runs` back-to-back runs timed as one (coarse browser clocks)
// and divided by runs. Ours: request.set + session.run per run (the request part recomputed
// every run, as ONNX Runtime recomputes it per row); ONNX Runtime: `await session.run(feeds)`.
// The result: rows {model, precision, batch, impl, ms: [per round], median}, and load times.

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// ple-run's JSON lines (export.py's request.jsonl): one request, then candidates.
function readCandidates(text, model) {
  let lines = text.trim().split('\n').map((l) => JSON.parse(l));
  if (!lines[0].request) lines = [{ request: null }, ...lines];  // no request-scope features
  const keys = [...model.features.filter((f) => f.scope === 'candidate').map((f) => f.name), ...model.extras];
  const candidates = lines.slice(1);
  const features = {};
  for (const key of keys) {
    if (!(key in candidates[0])) continue;
    const spec = model.features.find((f) => f.name === key);
    const width = spec && spec.kind === 'dense' ? spec.width : 1;
    const values = spec && spec.kind !== 'dense' ? new Float64Array(candidates.length) : new Float32Array(candidates.length * width);
    candidates.forEach((c, i) => {
      if (width === 1) values[i] = Array.isArray(c[key]) ? c[key][0] : c[key];
      else values.set(c[key], i * width);
    });
    features[key] = { values, width, ids: spec && spec.kind !== 'dense' };
  }
  return { request: lines[0].request, features };
}

function sliceFeatures(features, batch) {
  const out = {};
  for (const [key, f] of Object.entries(features)) {
    const part = f.values.subarray(0, batch * f.width);
    out[key] = f.ids ? Array.from(part) : part;
  }
  return out;
}

export async function runBench({ ple, ort, models, batches, runs, rounds, warmup, fetchBytes, fetchText, log }) {
  const rows = [], loads = [];
  ort.env.wasm.numThreads = 1;
  for (const modelName of models) {
    const meta = JSON.parse(await fetchText(`peers/${modelName}/meta.json`));
    for (const precision of ['f32', 'int8']) {
      // Load: bytes already fetched; module instantiation is counted once per process elsewhere.
      const pleBytes = await fetchBytes(`models/${modelName}-${precision}.ple`);
      const onnxBytes = await fetchBytes(`peers/${modelName}/model-${precision}.onnx`);
      let t = performance.now();
      const model = ple.openModel(pleBytes);
      const sessions = { reference: model.createSession({ kernels: 'reference', maxBatch: Math.max(...batches) }) };
      const pleLoad = performance.now() - t;
      sessions.wasmsimd = model.createSession({ kernels: 'wasmsimd', maxBatch: Math.max(...batches) });
      // The relaxed module's path, on the same file (its int8 groups take relaxed SIMD where the
      // engine computes full bytes exactly: ple.relaxedInt8Groups 'all') and on the narrow int8
      // file (weights in [-64, 64]: relaxed SIMD wherever the module loads).
      let narrowModel = null;
      if (ple.kernelPaths.includes('wasmrelaxed')) {
        sessions.wasmrelaxed = model.createSession({ kernels: 'wasmrelaxed', maxBatch: Math.max(...batches) });
        if (precision === 'int8') {
          narrowModel = ple.openModel(await fetchBytes(`models/${modelName}-int8narrow.ple`));
          sessions['wasmrelaxed-narrow'] = narrowModel.createSession({ kernels: 'wasmrelaxed', maxBatch: Math.max(...batches) });
        }
      }
      t = performance.now();
      const ortSession = await ort.InferenceSession.create(onnxBytes, { executionProviders: ['wasm'],
        graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 1, interOpNumThreads: 1 });
      const ortLoad = performance.now() - t;
      loads.push({ model: modelName, precision, ple_ms: pleLoad, ort_ms: ortLoad });
      const { request: requestValues, features } = readCandidates(await fetchText(`peers/${modelName}/request.jsonl`), model);
      const request = requestValues ? model.createRequest() : null;
      const narrowRequest = requestValues && narrowModel ? narrowModel.createRequest() : null;
      const inputs = {};
      for (const input of meta.inputs) {
        inputs[input.name] = { data: new Float32Array(await fetchBytes(`peers/${modelName}/input-${input.name}.f32`)),
          width: input.shape[1] };
      }
      for (const batch of batches) {
        const candidates = sliceFeatures(features, batch);
        const outputs = new Float32Array(batch * model.tasks.length);
        const scores = model.hasScore ? new Float32Array(batch) : false;
        const ours = (session, req = request) => () => {
          if (req) req.set(requestValues);
          session.run(candidates, { request: req, outputs, scores, count: batch });
        };
        const feeds = {};
        for (const [name, x] of Object.entries(inputs)) {
          feeds[name] = new ort.Tensor('float32', x.data.subarray(0, batch * x.width), [batch, x.width]);
        }
        const impls = [['reference', ours(sessions.reference)], ['wasmsimd', ours(sessions.wasmsimd)],
          ['onnxruntime-web', () => ortSession.run(feeds)]];
        if (sessions.wasmrelaxed) impls.push(['wasmrelaxed', ours(sessions.wasmrelaxed)]);
        if (narrowModel) impls.push(['wasmrelaxed-narrow', ours(sessions['wasmrelaxed-narrow'], narrowRequest)]);
        const times = Object.fromEntries(impls.map(([name]) => [name, []]));
        for (const [, run] of impls) for (let i = 0; i < warmup; ++i) await run();
        for (let round = 0; round < rounds; ++round) {
          for (let k = 0; k < impls.length; ++k) {
            const [name, run] = impls[(k + round) % impls.length];
            const start = performance.now();
            for (let i = 0; i < runs; ++i) await run();
            times[name].push((performance.now() - start) / runs);
          }
        }
        for (const [name] of impls) {
          rows.push({ model: modelName, precision, batch, impl: name, ms: times[name], median: median(times[name]) });
        }
        const ratio = (a, b) => median(times[a].map((x, i) => x / times[b][i]));
        log(`${modelName} ${precision} batch ${batch}: wasmsimd ${median(times.wasmsimd).toFixed(3)} ms, ` +
          `reference ${median(times.reference).toFixed(3)} ms (${ratio('reference', 'wasmsimd').toFixed(2)}x), ` +
          `onnxruntime-web ${median(times['onnxruntime-web']).toFixed(3)} ms (${ratio('onnxruntime-web', 'wasmsimd').toFixed(2)}x)` +
          (times.wasmrelaxed ? `, wasmrelaxed ${median(times.wasmrelaxed).toFixed(3)} ms ` +
            `(onnxruntime-web / wasmrelaxed ${ratio('onnxruntime-web', 'wasmrelaxed').toFixed(2)}x)` : '') +
          (times['wasmrelaxed-narrow'] ? `, wasmrelaxed on the narrow file ${median(times['wasmrelaxed-narrow']).toFixed(3)} ms ` +
            `(onnxruntime-web / that ${ratio('onnxruntime-web', 'wasmrelaxed-narrow').toFixed(2)}x)` : ''));
      }
      await ortSession.release();
      for (const s of Object.values(sessions)) s.close();
      if (request) request.close();
      if (narrowRequest) narrowRequest.close();
      model.close();
      if (narrowModel) narrowModel.close();
    }
  }
  return { rows, loads };
}
