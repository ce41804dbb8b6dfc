#!/usr/bin/env node
// Several scaling runs (bench/scaling.mjs's scaling.json files) as one table: per point,
// the median over the runs of each run's median, with the range, and the raw spin
// placement and load range the runs had. On a shared VM, one run is not a figure.
//
//   node bench/scaling-merge.mjs RUN1/scaling.json RUN2/scaling.json ...
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/scaling-merge.mjs scaling.json [scaling.json ...]');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const KiB = 1024, MiB = 1 << 20;
const fmtSize = (b) => (b >= MiB ? `${b / MiB} MiB` : b >= KiB ? `${b / KiB} KiB` : `${b} B`);
const gb = (v) => (v >= 1e9 ? `${(v / 1e9).toFixed(2)}` : `${(v / 1e9).toFixed(2)}`);
const med = (v) => {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cell = (vals) => {
  const v = vals.filter(Number.isFinite);
  if (!v.length) return 'n/a';
  return `**${gb(med(v))}** (${gb(Math.min(...v))}-${gb(Math.max(...v))})`;
};
const key = (r) => `${r.sweep}|${r.dir}|${r.read}|${r.size}|${r.ring}`;
const points = new Map();
for (const run of runs) for (const r of run.rows) if (!points.has(key(r))) points.set(key(r), r);
const dirName = (r) => (r.dir === 'j2n' ? 'JS -> native' : r.read === 'one' ? 'native -> JS, one byte read' : 'native -> JS');
const spins = runs.flatMap((run) => [run.placement?.before?.p50_ns, run.placement?.after?.p50_ns, ...run.rows.map((r) => r.spin_ns)]).filter(Number.isFinite);
const loads = runs.flatMap((run) => run.rows.map((r) => r.load));
const out = [];
out.push(`${runs.length} runs; GB/s, median of the runs' medians (min-max); raw spin round trip ${Math.round(Math.min(...spins))}-${Math.round(Math.max(...spins))} ns; load ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`);
out.push('');
out.push('| sweep | direction | message | ring | first use, GB/s | warm, GB/s |');
out.push('|---|---|---|---|---|---|');
for (const [k, r] of points) {
  const same = runs.map((run) => run.rows.find((x) => key(x) === k)).filter(Boolean);
  out.push(`| ${r.sweep} | ${dirName(r)} | ${fmtSize(r.size)} | ${fmtSize(r.ring)} | ${cell(same.map((x) => x.first))} | ${cell(same.map((x) => x.warm))} |`);
}
const touch = runs.map((run) => run.firstTouch).filter(Boolean);
if (touch.length) {
  out.push('');
  out.push(`First touch of fresh memory (${touch.length} runs): ${med(touch.map((t) => t.us_per_page)).toFixed(2)} us per 4 KiB page; 256 MiB u8.set into a fresh SharedArrayBuffer ${gb(med(touch.map((t) => t.fresh)))} GB/s, into a warm one ${gb(med(touch.map((t) => t.warm)))} GB/s.`);
}
process.stdout.write(out.join('\n') + '\n');
