// Live performance: getStats() sampled at 4 Hz, numbers and uPlot time series.
import type { Hub } from './hub';
import type { Sample } from './sample';
import { TimeChart, type SeriesSpec } from './Chart';
import { fmt } from './hex';

const TX = '#2a6fb8';
const RX = '#d9822b';
/** The two directions of one quantity: JS → peer and peer → JS. */
function directions(unit: string, tx: keyof Sample, rx: keyof Sample): SeriesSpec[] {
  return [
    { label: `JS → peer ${unit}`, value: (s) => s[tx], stroke: TX },
    { label: `peer → JS ${unit}`, value: (s) => s[rx], stroke: RX },
  ];
}

const RATE = directions('msgs/s', 'txMsgs', 'rxMsgs');
const MB = directions('MB/s', 'txMB', 'rxMB');
const FILL = directions('ring %', 'r2nFillPct', 'n2rFillPct');
const RTT: SeriesSpec[] = [
  { label: 'RTT p50 ms', value: (s) => s.p50, stroke: '#3a9d5d' },
  { label: 'RTT p99 ms', value: (s) => s.p99, stroke: '#c23b3b' },
];
const WAKE: SeriesSpec[] = [
  { label: 'doorbells to peer /s', value: (s) => s.doorbellsToPeer, stroke: '#7b4fb8' },
  { label: 'doorbells from peer /s', value: (s) => s.doorbellsFromPeer, stroke: '#b84f8f' },
  { label: 'JS queue length', value: (s) => s.queueLength, stroke: '#555' },
];

const ROWS: { id: string; label: string; get: (s: Sample) => string }[] = [
  { id: 'tx-msgs', label: 'JS → peer msgs/s', get: (s) => fmt(s.txMsgs, 0) },
  { id: 'rx-msgs', label: 'peer → JS msgs/s', get: (s) => fmt(s.rxMsgs, 0) },
  { id: 'tx-mb', label: 'JS → peer MB/s', get: (s) => fmt(s.txMB, 2) },
  { id: 'rx-mb', label: 'peer → JS MB/s', get: (s) => fmt(s.rxMB, 2) },
  { id: 'rtt-p50', label: 'round trip p50 (ms, echo pings)', get: (s) => fmt(s.p50, 3) },
  { id: 'rtt-p99', label: 'round trip p99 (ms)', get: (s) => fmt(s.p99, 3) },
  { id: 'r2n-fill', label: 'JS → peer ring fill %', get: (s) => fmt(s.r2nFillPct, 1) },
  { id: 'n2r-fill', label: 'peer → JS ring fill %', get: (s) => fmt(s.n2rFillPct, 1) },
  { id: 'queue', label: 'JS send queue (messages)', get: (s) => String(s.queueLength) },
  { id: 'bells-to', label: 'doorbells to peer /s', get: (s) => fmt(s.doorbellsToPeer, 0) },
  { id: 'bells-from', label: 'doorbells from peer /s', get: (s) => fmt(s.doorbellsFromPeer, 0) },
  { id: 'drains', label: 'drain passes /s', get: (s) => fmt(s.drainPasses, 0) },
  { id: 'drain-max', label: 'longest drain (ms)', get: (s) => fmt(s.longestDrainMs, 2) },
];

export function PerfPanel({ hub }: { hub: Hub }) {
  const s = hub.latest;
  return (
    <div className="panel">
      <div className="perf-top">
        <table className="kv" data-testid="perf-table">
          <tbody>
            {ROWS.map((r) => (
              <tr key={r.id}>
                <th>{r.label}</th>
                <td data-testid={`perf-${r.id}`}>{s ? r.get(s) : '–'}</td>
              </tr>
            ))}
            <tr>
              <th>chart updates</th>
              <td data-testid="chart-updates">{hub.chartUpdates}</td>
            </tr>
          </tbody>
        </table>
      </div>
      <div className="charts">
        <TimeChart hub={hub} id="rate" title="Messages per second" unit="msgs/s" series={RATE} />
        <TimeChart hub={hub} id="mb" title="Throughput" unit="MB/s" series={MB} />
        <TimeChart hub={hub} id="rtt" title="Round trip (echo pings)" unit="ms" series={RTT} />
        <TimeChart hub={hub} id="fill" title="Ring fill" unit="%" series={FILL} />
        <TimeChart hub={hub} id="wake" title="Wake-ups and queue" unit="per s / msgs" series={WAKE} />
      </div>
    </div>
  );
}
