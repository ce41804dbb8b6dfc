#!/usr/bin/env node
// Scaling figures (issue #14 item 8): channel throughput against message size (64 B ..
// 512 MiB, 8 MiB rings: the ring of the 1 MiB figures in bench/run.mjs) and against ring
// size (64 KiB .. 512 MiB, 1 MiB messages), JS -> native and native -> JS, first use and
// warm; what one channel costs (buffer bytes, threads, fds, RSS). Also run by
// `npm run bench -- --scaling` after the default plan.
//
//   node bench/scaling.mjs [--quick] [--reps=N] [--json] [--out=bench-results]
//
// Every point is one child process (bench/cases.mjs chanScale) with an untimed warm-up
// rep and N measured reps (median). JS -> native: the 'sink' handler with checksum
// 'sum32'; native -> JS: the 'source' handler and a JS consumer that reads every byte (a
// u32 sum, checked); the one-byte consumer (m[0]) of the older figure is kept as
// information. The raw JS <-> native spin round trip (rawSpin) is measured at the start,
// after every point (short) and at the end: it says where the host placed the two vCPUs,
// which moves every cross-core figure (~120 ns vs ~500 ns on the project VMs). The 1-minute load average is recorded beside every point.
// Output: a table on stdout, scaling.json, scaling.md, scaling-size.svg and
// scaling-ring.svg in the output directory (next to bench.svg).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const quick = flag('quick');
const json = flag('json');
const reps = Number(opt('reps', quick ? 2 : 3));
const outDir = path.resolve(root, opt('out', 'bench-results'));
const log = (s) => process.stderr.write(s);

const KiB = 1024, MiB = 1 << 20;
const SIZES = [64, KiB, 4 * KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB, 256 * MiB, 512 * MiB];
const RINGS = [64 * KiB, 256 * KiB, MiB, 8 * MiB, 64 * MiB, 512 * MiB];
const SIZE_RING = 8 * MiB;
const RING_MSG = MiB;
const PHASE_BYTES = quick ? 16 * MiB : 64 * MiB; // bytes per phase (first, warm)
const kFor = (size) => Math.max(1, Math.min(1_000_000, Math.floor(PHASE_BYTES / size)));

function runCase(name, params, timeoutS = 600) {
  const load = os.loadavg()[0];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(root, 'bench/cases.mjs'), name, JSON.stringify(params)], {
    cwd: root, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 24,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    log(`FAILED (${r.signal ?? `exit ${r.status}`})\n${(r.stderr ?? '').slice(-1500)}\n`);
    return { runs: [], load, failed: true };
  }
  log(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { runs: JSON.parse(line).runs, load };
}
function med(runs, key) {
  const v = runs.map((x) => x[key]).filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
const fmtSize = (b) => (b >= MiB ? `${b / MiB} MiB` : b >= KiB ? `${b / KiB} KiB` : `${b} B`);
const fmtMsgs = (v) => (!Number.isFinite(v) ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(1));
const fmtRate = (v) => (Number.isFinite(v) ? (v >= 1e9 ? `${(v / 1e9).toFixed(2)} GB/s` : `${(v / 1e6).toFixed(0)} MB/s`) : 'n/a');

const started = Date.now();
const rows = [];
function point(sweep, dir, read, size, ring) {
  const k = kFor(size);
  log(`[${sweep}] ${dir}${read === 'one' ? ' (one byte)' : ''} ${fmtSize(size)} msgs, ${fmtSize(ring)} ring, k=${k} ... `);
  const { runs, load, failed } = runCase('chanScale', { dir, size, ring, k, reps, read });
  // The host may move the two vCPUs at any time: a short raw spin probe after each point.
  log('  placement probe ... ');
  const spin = runCase('rawSpin', { iters: 5000, reps: 1 }, 60).runs[0]?.p50_ns;
  rows.push({
    sweep, dir, read, size, ring, k, load, spin_ns: spin, failed: !!failed,
    first: med(runs, 'first_bytes_per_s'), warm: med(runs, 'warm_bytes_per_s'),
    first_msgs: med(runs, 'first_msgs_per_s'), warm_msgs: med(runs, 'warm_msgs_per_s'), create_s: med(runs, 'create_s'), runs,
  });
}
function rawSpin() {
  log('[placement] raw JS <-> native spin round trip ... ');
  const { runs, load } = runCase('rawSpin', { iters: 20_000, reps: 3 });
  return { p50_ns: med(runs, 'p50_ns'), load };
}

const spinBefore = rawSpin();
for (const size of SIZES) {
  point('size', 'j2n', 'all', size, SIZE_RING);
  point('size', 'n2j', 'all', size, SIZE_RING);
  if (size === MiB || size === 256 * MiB) point('size', 'n2j', 'one', size, SIZE_RING);
}
for (const ring of RINGS) {
  point('ring', 'j2n', 'all', RING_MSG, ring);
  point('ring', 'n2j', 'all', RING_MSG, ring);
}
const footprint = [];
for (const [n, r] of [[50, 64 * KiB], [10, MiB], [4, 8 * MiB]]) {
  log(`[footprint] ${n} channels of ${fmtSize(r)} + ${fmtSize(r)} ... `);
  const { runs, load } = runCase('chanFootprint', { n, r2n: r, n2r: r });
  if (runs[0]) footprint.push({ n, ring: r, load, ...runs[0] });
}
log('[reference] first touch of 256 MiB of fresh memory ... ');
const touchRun = runCase('firstTouch', { size: 256 * MiB, reps: 3 });
const touch = { load: touchRun.load, us_per_page: med(touchRun.runs, 'us_per_page'), fresh: med(touchRun.runs, 'fresh_set_bytes_per_s'), warm: med(touchRun.runs, 'warm_set_bytes_per_s') };
const spinAfter = rawSpin();
const elapsed = (Date.now() - started) / 1000;
log(`scaling: done in ${elapsed.toFixed(0)} s\n`);

// ---- output -------------------------------------------------------------------------------
const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${os.platform()} ${os.release()}, Node ${process.version}`;
const placement = `raw spin round trip p50 ${Math.round(spinBefore.p50_ns)} ns before, ${Math.round(spinAfter.p50_ns)} ns after`;
const dirName = (r) => (r.dir === 'j2n' ? 'JS -> native' : r.read === 'one' ? 'native -> JS (one byte read)' : 'native -> JS');
const lines = [];
lines.push(`Scaling${quick ? ' (--quick)' : ''}: medians of ${reps}; ${machine}; ${placement}; ${elapsed.toFixed(0)} s`);
lines.push('');
lines.push('| sweep | direction | message | ring | k | first use | warm | warm msg/s | channel creation | raw spin after | load (1 min) |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  lines.push(`| ${r.sweep} | ${dirName(r)} | ${fmtSize(r.size)} | ${fmtSize(r.ring)} | ${r.k} | ${r.failed ? 'FAILED' : fmtRate(r.first)} | ${r.failed ? 'FAILED' : fmtRate(r.warm)} | ${fmtMsgs(r.warm_msgs)} | ${Number.isFinite(r.create_s) ? `${(r.create_s * 1e3).toFixed(2)} ms` : 'n/a'} | ${Number.isFinite(r.spin_ns) ? `${Math.round(r.spin_ns)} ns` : 'n/a'} | ${r.load.toFixed(1)} |`);
}
lines.push('');
lines.push('| channels | rings | buffer bytes | threads / channel | fds / channel | RSS / channel, idle | RSS / channel, after one lap | threads, fds left after cleanup | load |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const f of footprint) {
  lines.push(`| ${f.n} | ${fmtSize(f.ring)} + ${fmtSize(f.ring)} | ${f.buffer_bytes} | ${f.threads_per_channel} | ${f.fds_per_channel} | ${(f.rss_per_channel_idle / KiB).toFixed(0)} KiB | ${(f.rss_per_channel_after_lap / KiB).toFixed(0)} KiB | ${f.threads_after_cleanup}, ${f.fds_after_cleanup} | ${f.load.toFixed(1)} |`);
}
lines.push('');
lines.push(`Reference, 256 MiB: first touch ${touch.us_per_page.toFixed(2)} us per 4 KiB page; u8.set into a fresh SharedArrayBuffer ${fmtRate(touch.fresh)}, into a warm one ${fmtRate(touch.warm)} (load ${touch.load.toFixed(1)}).`);
const table = lines.join('\n') + '\n';

if (json) {
  const emit = (metric, value, unit) => process.stdout.write(JSON.stringify({ metric, value, unit }) + '\n');
  for (const r of rows) {
    const base = `scaling.${r.sweep}.${r.dir === 'j2n' ? 'js_to_native' : 'native_to_js'}${r.read === 'one' ? '.one_byte' : ''}.${fmtSize(r.size).replace(' ', '')}.ring${fmtSize(r.ring).replace(' ', '')}`;
    emit(`${base}.first.bytes_per_s`, r.first, 'B/s');
    emit(`${base}.warm.bytes_per_s`, r.warm, 'B/s');
  }
  emit('scaling.limit.raw_spin.rtt.p50_ns.before', spinBefore.p50_ns, 'ns');
  emit('scaling.limit.raw_spin.rtt.p50_ns.after', spinAfter.p50_ns, 'ns');
} else {
  process.stdout.write(table);
}

function lineChart({ title, xLabel, xs, series }) {
  const W = 820, H = 460, L = 80, R = 250, T = 40, B = 60;
  const pw = W - L - R, ph = H - T - B;
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y) && y > 0);
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...ys)))), yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys))));
  const lx0 = Math.log2(xs[0]), lx1 = Math.log2(xs[xs.length - 1]);
  const X = (x) => L + ((Math.log2(x) - lx0) / (lx1 - lx0)) * pw;
  const Y = (y) => T + ph - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n`;
  s += `<text x="10" y="20" font-size="14" font-weight="bold">${title}</text>\n`;
  s += `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>\n`;
  for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
    s += `<line x1="${L}" y1="${Y(d)}" x2="${L + pw}" y2="${Y(d)}" stroke="#ddd"/>\n`;
    s += `<text x="${L - 6}" y="${Y(d) + 4}" text-anchor="end">${d >= 1e9 ? `${d / 1e9} GB/s` : `${d / 1e6} MB/s`}</text>\n`;
  }
  let lastLabel = -Infinity, low = false;
  for (const x of xs) {
    low = X(x) - lastLabel < 45 ? !low : false; // neighbours too close: alternate rows
    lastLabel = X(x);
    s += `<line x1="${X(x)}" y1="${T}" x2="${X(x)}" y2="${T + ph}" stroke="#eee"/>\n`;
    s += `<text x="${X(x)}" y="${T + ph + (low ? 28 : 16)}" text-anchor="middle">${fmtSize(x).replace(' ', '')}</text>\n`;
  }
  s += `<text x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">${xLabel} (log scale; throughput log scale)</text>\n`;
  series.forEach((se, i) => {
    const pts = se.points.filter((p) => Number.isFinite(p[1]) && p[1] > 0);
    if (pts.length) {
      s += `<polyline fill="none" stroke="${se.color}" stroke-width="2"${se.dash ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>\n`;
      for (const p of pts) s += `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${se.color}"/>\n`;
    }
    const ly = T + 10 + i * 20;
    s += `<line x1="${L + pw + 14}" y1="${ly}" x2="${L + pw + 40}" y2="${ly}" stroke="${se.color}" stroke-width="2"${se.dash ? ' stroke-dasharray="6 4"' : ''}/>\n`;
    s += `<text x="${L + pw + 46}" y="${ly + 4}">${se.name}</text>\n`;
  });
  s += `<text x="${L}" y="${H - 4}" font-size="10">${placement}; medians of ${reps}</text>\n`;
  return s + '</svg>\n';
}
const seriesOf = (sweep, key) => [
  { name: 'JS -> native, first use', dir: 'j2n', read: 'all', f: 'first', color: '#1f77b4', dash: true },
  { name: 'JS -> native, warm', dir: 'j2n', read: 'all', f: 'warm', color: '#1f77b4' },
  { name: 'native -> JS, first use', dir: 'n2j', read: 'all', f: 'first', color: '#d62728', dash: true },
  { name: 'native -> JS, warm', dir: 'n2j', read: 'all', f: 'warm', color: '#d62728' },
  { name: 'native -> JS, one byte read, warm', dir: 'n2j', read: 'one', f: 'warm', color: '#999999' },
].map((se) => ({ ...se, points: rows.filter((r) => r.sweep === sweep && r.dir === se.dir && r.read === se.read).map((r) => [r[key], r[se.f]]) }))
  .filter((se) => se.points.length > 0);

mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'scaling-size.svg'), lineChart({ title: `Throughput vs message size (${fmtSize(SIZE_RING)} rings)`, xLabel: 'message size', xs: SIZES, series: seriesOf('size', 'size') }));
writeFileSync(path.join(outDir, 'scaling-ring.svg'), lineChart({ title: `Throughput vs ring size (${fmtSize(RING_MSG)} messages)`, xLabel: 'ring size', xs: RINGS, series: seriesOf('ring', 'ring') }));
writeFileSync(path.join(outDir, 'scaling.md'), table);
writeFileSync(path.join(outDir, 'scaling.json'), JSON.stringify({ machine, quick, reps, elapsed_s: elapsed, placement: { before: spinBefore, after: spinAfter }, rows, footprint, firstTouch: touch }, null, 1));
log(`wrote ${path.relative(root, outDir)}/scaling-size.svg, scaling-ring.svg, scaling.md, scaling.json\n`);
if (rows.some((r) => r.failed)) process.exit(1);
