// Prints the web benchmark's table (markdown) from the JSON files node.mjs and browser.mjs wrote.
//   node bench/web/summarize.mjs RESULT.json...
import { readFile } from 'node:fs/promises';

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const file of process.argv.slice(2)) {
  const result = JSON.parse(await readFile(file, 'utf8'));
  console.log(`\n${result.engine}, ${result.variant ?? (result.simd ? 'simd' : 'nosimd')} module` +
    `${result.timer_resolution_note ? `, ${result.timer_resolution_note}` : ''}; ms per run, median of rounds; ` +
    'ratios: median over rounds of the per-round ratio\n');
  console.log(`relaxed SIMD for ${result.relaxedInt8Groups ?? 'no'} int8 groups\n`);
  console.log('| model | precision | batch | wasmsimd | reference | onnxruntime-web | reference / wasmsimd | onnxruntime-web / wasmsimd | ' +
    'wasmrelaxed | onnxruntime-web / wasmrelaxed | wasmrelaxed, narrow file | onnxruntime-web / that |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const key = (r) => `${r.model} ${r.precision} ${r.batch}`;
  const groups = new Map();
  for (const row of result.rows) groups.set(key(row), { ...groups.get(key(row)), [row.impl]: row });
  for (const g of groups.values()) {
    const ratio = (a, b) => median(g[a].ms.map((x, i) => x / g[b].ms[i])).toFixed(2);
    const s = g.wasmsimd;
    console.log(`| ${s.model} | ${s.precision} | ${s.batch} | ${s.median.toFixed(3)} | ${g.reference.median.toFixed(3)} | ` +
      `${g['onnxruntime-web'].median.toFixed(3)} | ${ratio('reference', 'wasmsimd')}x | ${ratio('onnxruntime-web', 'wasmsimd')}x | ` +
      (g.wasmrelaxed ? `${g.wasmrelaxed.median.toFixed(3)} | ${ratio('onnxruntime-web', 'wasmrelaxed')}x |` : ' | |') +
      (g['wasmrelaxed-narrow'] ? ` ${g['wasmrelaxed-narrow'].median.toFixed(3)} | ${ratio('onnxruntime-web', 'wasmrelaxed-narrow')}x |` : ' | |'));
  }
  console.log('\nload (model bytes to a ready session, ms): ' + result.loads.map((l) =>
    `${l.model} ${l.precision}: ours ${l.ple_ms.toFixed(1)}, onnxruntime-web ${l.ort_ms.toFixed(1)}`).join('; ') +
    `; module instantiation (ours) ${result.instantiate.ple_ms.toFixed(1)} ms`);
}
