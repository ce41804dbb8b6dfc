// A uPlot time-series chart fed from the hub's samples (no React state per update).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Hub } from './hub';
import type { Sample } from './sample';

/** 1500000 -> '1.5M', 2500 -> '2.5k': keeps axis labels narrow. */
function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(3));
}

export interface SeriesSpec {
  label: string;
  value: (s: Sample) => number;
  stroke: string;
}

export function TimeChart(props: { hub: Hub; id: string; title: string; unit: string; series: SeriesSpec[] }) {
  const { hub, id, title, unit, series } = props;
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const opts: uPlot.Options = {
      title,
      width: 520,
      height: 200,
      legend: { show: true },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { label: unit, size: 70, values: (_u, splits) => splits.map((v) => compact(v)) }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, spanGaps: false }))],
    };
    const build = (): uPlot.AlignedData => {
      const h = hub.history;
      const x = h.map((s) => s.t);
      return [x, ...series.map((sp) => h.map((s) => { const v = sp.value(s); return Number.isFinite(v) ? v : null; }))];
    };
    const u = new uPlot(opts, build(), host);
    const off = hub.onSample(() => {
      u.setData(build());
      hub.chartUpdates++;
    });
    return () => {
      off();
      u.destroy();
    };
  }, [hub, title, unit, series]);
  return <div className="chart" data-testid={`chart-${id}`} ref={el} />;
}

/** One bar per label; a label may hold '\n' (two lines under the bar). */
export function BarChart(props: { id: string; title: string; labels: string[]; values: number[]; unit: string }) {
  const el = useRef<HTMLDivElement>(null);
  const { id, title, labels, values, unit } = props;
  useEffect(() => {
    const host = el.current;
    if (!host || labels.length === 0) return;
    const u = new uPlot(
      {
        title,
        width: Math.max(760, 70 * labels.length + 80),
        height: 260,
        legend: { show: false },
        scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { distr: 3 } },
        axes: [
          { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (labels[v] ?? '') : '')), splits: () => labels.map((_, i) => i), size: 50 },
          { label: unit, size: 60 },
        ],
        series: [{}, { label: unit, fill: '#4a90d9aa', stroke: '#2a6fb8', width: 1, paths: uPlot.paths.bars!({ size: [0.6, 80] }) }],
      },
      [labels.map((_, i) => i), values.map((v) => (v > 0 ? v : null))],
      host,
    );
    return () => u.destroy();
  }, [id, title, labels, values, unit]);
  return <div className="chart" data-testid={`chart-${id}`} ref={el} />;
}
