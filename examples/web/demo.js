// The demo page: ranks a request with the web package (platforms/web) and draws the gates'
// expert utilisation. Query parameters: model (default models/feed.ple), data (a ple-run JSON
// lines file, default models/request.jsonl), simd (auto, relaxed, true or false), report
// (present: the results are also POSTed to /results, for browsers driven without a DOM dump).
import { load } from './ple/ple.js';

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? 'models/feed.ple';
const dataUrl = params.get('data') ?? 'models/request.jsonl';
const simdParam = params.get('simd') ?? 'auto';
// The diagnostics report's colours (tools/html_report.cc).
const TASK_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#6b6ecf'];
const SHARED_COLOUR = '#8c8c8c';

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// ple-run's JSON lines: {"request": {...}} then one candidate per line, repeated per request.
function parseRequests(text, model) {
  const candidateKeys = new Set([...model.features.filter((f) => f.scope === 'candidate').map((f) => f.name), ...model.extras]);
  const requests = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line);
    if (row.request) {
      requests.push({ request: row.request, candidates: [] });
    } else {
      requests.at(-1).candidates.push(row);
    }
  }
  return requests.map(({ request, candidates }) => {
    const features = {};
    for (const key of Object.keys(candidates[0])) if (candidateKeys.has(key)) features[key] = candidates.map((c) => c[key]);
    return { request, features, ids: candidates.map((c, i) => c.id ?? String(i)) };
  });
}

function floatBits(x) {
  return new Uint32Array(Float32Array.of(x).buffer)[0].toString(16).padStart(8, '0');
}

// Sums of one gate's weights, per softmax position, as tools/activity_report.cc keeps them.
function accumulate(stats, weights) {
  for (let r = 0; r < weights.rows; ++r) {
    for (let e = 0; e < weights.experts; ++e) {
      const w = weights.weights[r * weights.experts + e];
      const s = stats[e];
      s.sum += w;
      s.sumSquares += w * w;
      s.min = Math.min(s.min, w);
      s.max = Math.max(s.max, w);
      s.count += 1;
    }
  }
}

function drawGate(model, level, gateIndex, gate, stats) {
  const tasks = model.tasks.length;
  const streamName = (s) => (s < tasks ? `task ${model.tasks[s].name}` : 'shared');
  const barWidth = 46, height = 120, top = 10;
  const experts = model.levels[level].experts;
  const bars = stats.map((s, position) => {
    const expert = gate.experts[position];
    const colour = experts[expert].inputStream < tasks ? TASK_COLOURS[experts[expert].inputStream % TASK_COLOURS.length] : SHARED_COLOUR;
    const x = 10 + position * (barWidth + 12), y = (v) => top + height * (1 - v);
    return `<rect x="${x}" y="${y(s.mean)}" width="${barWidth}" height="${height * s.mean}" fill="${colour}"/>` +
      `<line x1="${x + barWidth / 2}" x2="${x + barWidth / 2}" y1="${y(s.min)}" y2="${y(s.max)}" stroke="#000"/>` +
      `<text x="${x + barWidth / 2}" y="${top + height + 14}" text-anchor="middle">e${expert} ${s.mean.toFixed(2)}</text>`;
  }).join('');
  const width = 20 + stats.length * (barWidth + 12);
  return `<div class="gate"><h4>level ${level + 1}, gate ${gateIndex} (${streamName(gate.outputStream)})</h4>` +
    `<svg width="${width}" height="${height + 30}" role="img">${bars}</svg></div>`;
}

async function main() {
  const ple = await load({ simd: simdParam === 'auto' || simdParam === 'relaxed' ? simdParam : simdParam === 'true' });
  const model = ple.openModel(await (await fetchOk(modelUrl)).arrayBuffer());
  const requests = parseRequests(await (await fetchOk(dataUrl)).text(), model);
  const maxBatch = Math.max(...requests.map((r) => r.ids.length));
  const session = model.createSession({ maxBatch, recordGates: true });
  const request = model.createRequest();
  const gates = [];
  model.levels.forEach((level, l) => level.gates.forEach((gate, g) => gates.push({ level: l, gate: g, info: gate,
    stats: gate.experts.map(() => ({ sum: 0, sumSquares: 0, min: Infinity, max: -Infinity, count: 0 })), computed: true })));
  const ranking = [];
  const started = performance.now();
  requests.forEach((r, requestIndex) => {
    request.set(r.request);
    const { outputs, scores } = session.run(r.features, { request });
    const order = scores ? ple.topK(scores, scores.length) : Uint32Array.from(r.ids.keys());
    order.forEach((c, rank) => ranking.push({ request: requestIndex, rank: rank + 1, candidate: c, id: r.ids[c],
      score: scores ? scores[c] : null, outputs: Array.from(outputs.subarray(c * model.tasks.length, (c + 1) * model.tasks.length)) }));
    for (const g of gates) {
      if (!g.computed) continue;
      try {
        accumulate(g.stats, session.gateWeights(g.level, g.gate));
      } catch (error) {
        if (error.statusName !== 'UNSUPPORTED') throw error;
        g.computed = false;  // no task output depends on it (docs/diagnostics.md)
      }
    }
  });
  const milliseconds = performance.now() - started;
  for (const g of gates) {
    for (const s of g.stats) {
      s.mean = s.sum / s.count;
      s.std = Math.sqrt(Math.max(0, s.sumSquares / s.count - s.mean * s.mean));
    }
  }

  const taskHeads = model.tasks.map((t) => `<th>${t.name}</th>`).join('');
  document.getElementById('ranking').innerHTML = `<tr><th>rank</th><th>candidate</th><th>score</th>${taskHeads}</tr>` +
    ranking.map((r) => `<tr><td>${r.rank}</td><td>${r.id}</td><td>${r.score === null ? '' : r.score.toFixed(6)}</td>` +
      r.outputs.map((v) => `<td>${v.toFixed(4)}</td>`).join('') + '</tr>').join('');
  document.getElementById('gates').innerHTML = gates.filter((g) => g.computed)
    .map((g) => drawGate(model, g.level, g.gate, g.info, g.stats)).join('');
  document.getElementById('status').textContent = `${modelUrl}: ${ranking.length} candidates ranked in ` +
    `${milliseconds.toFixed(1)} ms on the ${session.kernelPath} kernels (${ple.variant} module)`;
  for (const o of [request, session, model]) o.close();
  await publish({
    simd: ple.simd, variant: ple.variant, relaxedInt8Groups: ple.relaxedInt8Groups, kernelPath: session.kernelPath, tasks: model.tasks.map((t) => t.name),
    ranking: ranking.map((r) => ({ ...r, score: r.score === null ? null : floatBits(r.score), outputs: r.outputs.map(floatBits) })),
    gates: gates.filter((g) => g.computed).flatMap((g) => g.stats.map((s, position) => ({ level: g.level, gate: g.gate,
      expert: g.info.experts[position], position, mean: s.mean, std: s.std, min: s.min, max: s.max }))),
  });
}

// What the page computed, in <pre id="results"> and, with ?report, POSTed to /results.
async function publish(results) {
  const text = JSON.stringify(results);
  document.getElementById('results').textContent = text;
  document.body.dataset.status = results.error ? 'error' : 'done';
  if (params.has('report')) await fetch('/results', { method: 'POST', body: text });
}

main().catch((error) => {
  const status = document.getElementById('status');
  status.textContent = `error: ${error.message}`;
  status.className = 'error';
  return publish({ error: String(error.message ?? error) });
});
