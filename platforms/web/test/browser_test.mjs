// The demo page (examples/web) in headless Chromium (Debian's chromium, no browser download):
// for the float32, the all-int8 and the narrow all-int8 example (and the int8 ones on 130
// candidates), with the relaxed, the SIMD128 and the baseline module, the page's ranking and
// every score and output must equal native ple-run's bit for bit (float32 against
// the reference kernels), and its expert-utilisation numbers ple-inspect --activity's data-*
// values. Then the package README's example runs as written. Chromium's --dump-dom gives the
// page's DOM once its work is done (virtual time: network and timers, no fixed sleeps). Then the
// same page in Firefox ESR (headless, the module load() picks there), which POSTs its results (?report).
//   node platforms/web/test/browser_test.mjs PACKAGE_DIR FIXTURES_DIR
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../../examples/web/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [packageDir, fixtures] = process.argv.slice(2).map((p) => resolve(p));
if (!fixtures) throw new Error('usage: browser_test.mjs PACKAGE_DIR FIXTURES_DIR');
const browser = process.env.PLE_CHROMIUM ?? '/usr/bin/chromium';
const scratch = await mkdtemp(join(tmpdir(), 'ple-browser-'));
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

// One page load; resolves to {dom, console}.
function chromium(url) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${join(scratch, 'profile')}`, '--enable-logging=stderr', '--v=0',
    '--virtual-time-budget=60000', '--dump-dom', url];
  return new Promise((done, fail) => {
    execFile(browser, args, { timeout: 120000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error && !stdout) fail(new Error(`chromium failed on ${url}: ${error.message}\n${stderr}`));
      else done({ dom: stdout, console: stderr.split('\n').filter((l) => l.includes(':CONSOLE')).join('\n') });
    });
  });
}

// One page load in headless Firefox ESR; resolves to what the page POSTed to /results.
let posted = null;
async function firefox(url) {
  const profile = await mkdtemp(join(scratch, 'firefox-'));
  const result = new Promise((done) => { posted = done; });
  const browser = spawn(process.env.PLE_FIREFOX ?? '/usr/bin/firefox-esr', ['--headless', '--no-remote', '--profile', profile, url],
    { stdio: 'ignore' });
  let timer;
  const timeout = new Promise((done, fail) => { timer = setTimeout(() => fail(new Error(`firefox: no results from ${url} in 120 s`)), 120000); });
  try {
    return await Promise.race([result, timeout]);
  } finally {
    clearTimeout(timer);
    const exited = new Promise((done) => browser.once('exit', done));
    browser.kill();
    await exited;
  }
}

const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
const bitsOf = (x) => new Uint32Array(Float32Array.of(Math.fround(x)).buffer)[0].toString(16).padStart(8, '0');

function pageResults(dom, url) {
  const match = dom.match(/<pre id="results">([\s\S]*?)<\/pre>/);
  if (!match || !match[1]) throw new Error(`${url}: the page wrote no results (did it finish?)\n${dom.slice(0, 2000)}`);
  return JSON.parse(unescape(match[1]));
}

// ple-run's CSV: request,rank,candidate,id,score,TASK... (a model without a score: no rank or
// score column, candidates in input order).
async function checkRanking(name, results, expectedFile) {
  const [header, ...rows] = (await readFile(join(fixtures, expectedFile), 'utf8')).trim().split('\n').map((l) => l.split(','));
  const column = Object.fromEntries(header.map((h, i) => [h, i]));
  const taskColumns = header.map((h, i) => i).filter((i) => !['request', 'rank', 'candidate', 'id', 'score'].includes(header[i]));
  check(JSON.stringify(results.tasks) === JSON.stringify(taskColumns.map((i) => header[i])), `${name}: tasks ${results.tasks}`);
  check(results.ranking.length === rows.length, `${name}: ${results.ranking.length} candidates, native ${rows.length}`);
  rows.forEach((row, i) => {
    const got = results.ranking[i];
    if (!got) return;
    const id = row[column.id];
    check(got.candidate === +row[column.candidate] && got.id === id, `${name}: rank ${i + 1} is ${got.id}, native ${id}`);
    const score = column.score === undefined ? null : bitsOf(+row[column.score]);
    check(got.score === score, `${name}: ${id} score bits ${got.score}, native ${score}`);
    taskColumns.forEach((c, t) => check(got.outputs[t] === bitsOf(+row[c]), `${name}: ${id} task ${t} bits ${got.outputs[t]}, native ${bitsOf(+row[c])}`));
  });
}

// ple-inspect writes 9 significant digits (%.9g): the page's doubles must print the same.
async function checkGates(name, results, activityFile) {
  const html = await readFile(join(fixtures, activityFile), 'utf8');
  const bars = [...html.matchAll(/<rect [^>]*class="bar"([^>]*)>/g)].map((m) => Object.fromEntries(
    [...m[1].matchAll(/data-([a-z0-9-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
  check(bars.length > 0 && bars.length === results.gates.length, `${name}: ${results.gates.length} gate bars, report ${bars.length}`);
  for (const bar of bars) {
    const got = results.gates.find((g) => g.level === +bar.level && g.gate === +bar.gate && g.position === +bar.position);
    if (!got) {
      failures.push(`${name}: no bar for level ${bar.level} gate ${bar.gate} position ${bar.position}`);
      continue;
    }
    check(got.expert === +bar.expert, `${name}: gate ${bar.level}/${bar.gate} position ${bar.position} expert ${got.expert}, report ${bar.expert}`);
    for (const key of ['mean', 'std', 'min', 'max']) {
      check(Number(got[key].toPrecision(9)) === Number(bar[key]),
        `${name}: gate ${bar.level}/${bar.gate} expert ${bar.expert} ${key} ${got[key].toPrecision(9)}, report ${bar[key]}`);
    }
  }
}

// The README's first js block, served as a module with 'ple-runtime' mapped to the package.
async function readmeExample(base) {
  const readme = await readFile(join(here, '..', 'README.md'), 'utf8');
  const code = readme.match(/```js\n([\s\S]*?)```/)[1];
  await writeFile(join(scratch, 'example.js'), code);  // served as /readme-example.js (next to models/)
  await writeFile(join(scratch, 'example.html'), '<!doctype html><script type="importmap">' +
    '{"imports": {"ple-runtime": "/ple/ple.js"}}</script><script type="module" src="readme-example.js"></script>');
  const { console: log } = await chromium(`${base}/readme-example.html`);
  const line = log.match(/"(ranked: [^"]*)"/);
  check(line && /^ranked: \d \d \d; best score \d+\.\d{6}$/.test(line[1]), `README example printed: ${log || '(nothing)'}`);
  return line ? line[1] : null;
}

const server = await serve({ '/ple/': packageDir, '/models/': fixtures, '/readme-': scratch,
  '/': join(here, '..', '..', '..', 'examples', 'web') }, 0, { post: (path, body) => path === '/results' && posted?.(body) });
const base = `http://127.0.0.1:${server.address().port}`;
try {
  const cases = [['feed.ple', 'feed.expected.csv', 'feed.activity.html'],
    ['feed-int8all.ple', 'feed-int8all.expected.csv', 'feed-int8all.activity.html'],
    ['feed-int8narrow.ple', 'feed-int8narrow.expected.csv', 'feed-int8narrow.activity.html']];
  // Chromium on x86-64 passes the relaxed probe: 'auto' loads the relaxed module (its AUTO path
  // is wasmrelaxed); true the SIMD128 one; false the baseline.
  const modules = { auto: ['relaxed', 'wasmrelaxed'], true: ['simd', 'wasmsimd'], false: ['nosimd', 'reference'] };
  const runCase = async (model, expected, activity, simd, data) => {
    const started = Date.now();
    const url = `${base}/index.html?model=models/${model}&simd=${simd}${data ? `&data=models/${data}` : ''}`;
    const { dom } = await chromium(url);
    const results = pageResults(dom, url);
    if (results.error) throw new Error(`${url}: the page failed: ${results.error}`);
    const relaxed = results.relaxedInt8Groups ? `, relaxed SIMD for ${results.relaxedInt8Groups} int8 groups` : '';
    const name = `${model}${data ? ` on ${data}` : ''} (${results.variant} module, ${results.kernelPath}${relaxed})`;
    check(results.variant === modules[simd][0] && results.kernelPath === modules[simd][1],
      `${name}: simd=${simd} loaded the ${results.variant} module, AUTO ran ${results.kernelPath}`);
    await checkRanking(name, results, expected);
    if (activity) await checkGates(name, results, activity);
    console.log(`browser: ${name}: ${results.ranking.length} candidates and ${results.gates.length} gate bars compared (${Date.now() - started} ms)`);
  };
  for (const [model, expected, activity] of cases) {
    for (const simd of ['auto', 'true', 'false']) await runCase(model, expected, activity, simd);
  }
  // The int8 files on 130 candidates (the relaxed GEMM's 64-row chunks, odd row blocks).
  for (const model of ['feed-int8all', 'feed-int8narrow']) {
    for (const simd of ['auto', 'true']) {
      await runCase(`${model}.ple`, `${model}.request130.expected.csv`, null, simd, 'request130.jsonl');
    }
  }
  // Every conformance bundle's narrow all-int8 file, on the module 'auto' loads (relaxed here).
  const bundles = (await readdir(join(fixtures, 'bundles'))).filter((f) => f.endsWith('.ple')).map((f) => f.slice(0, -4));
  check(bundles.length > 0, 'no bundle fixtures');
  for (const bundle of bundles) {
    await runCase(`bundles/${bundle}.ple`, `bundles/${bundle}.expected.csv`, null, 'auto', `bundles/${bundle}.jsonl`);
  }
  const line = await readmeExample(base);
  console.log(`browser: README example printed "${line}"`);
  for (const [model, expected, activity] of cases) {
    const started = Date.now();
    const url = `${base}/index.html?model=models/${model}&report`;
    const results = JSON.parse(await firefox(url));
    if (results.error) throw new Error(`firefox: ${url}: the page failed: ${results.error}`);
    const relaxed = results.relaxedInt8Groups ? `, relaxed SIMD for ${results.relaxedInt8Groups} int8 groups` : '';
    const name = `Firefox ESR: ${model} (${results.variant} module, ${results.kernelPath}${relaxed})`;
    await checkRanking(name, results, expected);
    await checkGates(name, results, activity);
    console.log(`browser: ${name}: ${results.ranking.length} candidates and ${results.gates.length} gate bars compared (${Date.now() - started} ms)`);
  }
} finally {
  server.close();
  await rm(scratch, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`browser: ${failures.length} mismatches:\n  ${failures.slice(0, 40).join('\n  ')}`);
  process.exit(1);
}
console.log('browser: the demo page (Chromium and Firefox ESR) and the README example agree with the native tools');
