// Runs ONNX Runtime (npm onnxruntime-node) on one model and writes its outputs: the reference
// outputs of the ONNX import corpus (tests/reference/make_onnx_corpus.py calls it).
// Usage: NODE_PATH=build/peers/node_modules node tests/reference/ort_run.js MODEL.onnx IN.json OUT.json
// IN.json: {"name": {"shape": [...], "values": [...], "dtype": "float32" (default) or "int64"}};
// OUT.json the same for every graph output.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, inputPath, outputPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const given = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const feeds = {};
  for (const [name, t] of Object.entries(given)) {
    feeds[name] = t.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(t.values.map(BigInt)), t.shape)
                                      : new ort.Tensor('float32', Float32Array.from(t.values), t.shape);
  }
  const results = await session.run(feeds);
  const out = {};
  for (const name of session.outputNames) out[name] = { shape: results[name].dims, values: Array.from(results[name].data, Number) };
  fs.writeFileSync(outputPath, JSON.stringify(out));
}
main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
