// The web benchmark in headless Chromium (bench/web_compare.sh): serves bench/web/index.html with
// the package, onnxruntime-web and the models, cross-origin isolated (Chromium's clock is then
// 5 us instead of 100 us), runs Debian's chromium without virtual time, and waits for the page
// to POST its results.
//   node bench/web/browser.mjs PACKAGE_DIR ORT_DIR MODELS_DIR PEERS_DIR OUT.json MODELS BATCHES RUNS ROUNDS
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../examples/web/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [packageDir, ortDir, modelsDir, peersDir, out, models, batches, runs, rounds] = process.argv.slice(2);
const profile = await mkdtemp(join(tmpdir(), 'ple-bench-chromium-'));
let finish;
const finished = new Promise((done) => { finish = done; });
const server = await serve({
  '/ple/': resolve(packageDir), '/ort/': resolve(ortDir, 'node_modules/onnxruntime-web/dist'),
  '/models/': resolve(modelsDir), '/peers/': resolve(peersDir), '/': here,
}, 0, {
  headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  post: (path, body) => (path === '/results' ? finish(body) : console.error(`chromium: ${body}`)),
});
const url = `http://127.0.0.1:${server.address().port}/index.html?models=${models}&batches=${batches}&runs=${runs}&rounds=${rounds}`;
const browser = spawn(process.env.PLE_CHROMIUM ?? '/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--user-data-dir=${profile}`, url], { stdio: 'ignore' });
try {
  const body = await finished;
  const result = JSON.parse(body);
  if (result.error) throw new Error(`the benchmark page failed: ${result.error}`);
  await writeFile(out, JSON.stringify(result, null, 1));
} finally {
  const exited = new Promise((done) => browser.once('exit', done));
  browser.kill();
  await exited;
  server.close();
  await rm(profile, { recursive: true, force: true, maxRetries: 5 });
}
