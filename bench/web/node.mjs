// The web benchmark under node (bench/web_compare.sh): bench_core.mjs with files read from disk.
//   node bench/web/node.mjs PACKAGE_DIR ORT_DIR MODELS_DIR PEERS_DIR OUT.json MODELS BATCHES RUNS ROUNDS
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runBench } from './bench_core.mjs';

const [packageDir, ortDir, modelsDir, peersDir, out, models, batches, runs, rounds] = process.argv.slice(2);
const started = performance.now();
const { load } = await import(pathToFileURL(join(packageDir, 'ple.js')).href);
const ple = await load();
const pleInstantiate = performance.now() - started;
const t = performance.now();
const ort = await import(pathToFileURL(join(ortDir, 'node_modules/onnxruntime-web/dist/ort.node.min.mjs')).href);
const file = (path) => (path.startsWith('models/') ? join(modelsDir, path.slice(7)) : join(peersDir, path.slice(6)));
const result = await runBench({
  ple, ort, models: models.split(','), batches: batches.split(',').map(Number), runs: +runs, rounds: +rounds, warmup: 5,
  fetchBytes: async (path) => { const b = await readFile(file(path)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.length); },
  fetchText: (path) => readFile(file(path), 'utf8'),
  log: (line) => console.error(`node: ${line}`),
});
result.engine = `node ${process.version}`;
result.simd = ple.simd;
result.variant = ple.variant;
result.relaxedInt8Groups = ple.relaxedInt8Groups;
result.instantiate = { ple_ms: pleInstantiate, ort_import_ms: performance.now() - t };
await writeFile(out, JSON.stringify(result, null, 1));
