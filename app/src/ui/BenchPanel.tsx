// Benchmark: channel throughput and round trip measured in this page.
import { useMemo, useState } from 'react';
import { POSTMESSAGE_COPY, POSTMESSAGE_TRANSFER, ratioToPostMessage, runBenchmarks, type BenchRow } from './bench';
import { BarChart } from './Chart';
import type { Hub } from './hub';
import { fmt, formatBytes } from './hex';

const SERIES = {
  sink: { short: 'channel' },
  echo: { short: 'channel echo' },
  copy: { short: 'pM copy' },
  transfer: { short: 'pM transfer' },
} as const;

function seriesOf(test: string): keyof typeof SERIES {
  if (test === POSTMESSAGE_COPY) return 'copy';
  if (test === POSTMESSAGE_TRANSFER) return 'transfer';
  return test.startsWith('JS → peer →') ? 'echo' : 'sink';
}

export function BenchPanel({ hub }: { hub: Hub }) {
  const [rows, setRows] = useState<BenchRow[]>([]);
  const [status, setStatus] = useState('idle');
  const [wake, setWake] = useState<'doorbell' | 'poll' | 'spin'>('doorbell');

  const run = async (): Promise<void> => {
    setRows([]);
    setStatus('running…');
    hub.benchRunning = true;
    try {
      await runBenchmarks({
        wakeMode: wake,
        onRow: (r) => setRows((rs) => [...rs, r]),
        onProgress: (t) => setStatus(t === 'done' ? 'done' : `running: ${t}`),
      });
    } catch (e) {
      setStatus(`failed: ${(e as Error).message}`);
    } finally {
      hub.benchRunning = false;
    }
  };

  // Side by side per size: the channel (sink, echo), then the browser's alternatives.
  const thr = useMemo(() => rows.filter((r) => r.p50Us === undefined).sort((a, b) => a.size - b.size), [rows]);
  const labels = useMemo(() => thr.map((r) => `${formatBytes(r.size)}\n${SERIES[seriesOf(r.test)].short}`), [thr]);
  const values = useMemo(() => thr.map((r) => r.mbPerSec), [thr]);

  return (
    <div className="panel">
      <div className="row">
        <button data-testid="bench-run" onClick={() => void run()} disabled={status.startsWith('running')}>
          Run benchmarks
        </button>
        <label>
          Wake mode{' '}
          <select data-testid="bench-wake" value={wake} onChange={(e) => setWake(e.target.value as typeof wake)}>
            <option value="doorbell">doorbell</option>
            <option value="poll">poll</option>
            <option value="spin">spin</option>
          </select>
        </label>
        <span data-testid="bench-status">{status}</span>
      </div>
      <table className="bench" data-testid="bench-table">
        <thead>
          <tr>
            <th>test</th>
            <th>message</th>
            <th>messages</th>
            <th>seconds</th>
            <th>msgs/s</th>
            <th>MB/s</th>
            <th>p50 µs</th>
            <th>p99 µs</th>
            <th>vs postMessage</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid="bench-row">
              <td>{r.test}</td>
              <td>{formatBytes(r.size)}</td>
              <td>{r.messages.toLocaleString()}</td>
              <td>{r.seconds.toFixed(3)}</td>
              <td>{fmt(r.msgsPerSec, 0)}</td>
              <td>{fmt(r.mbPerSec, 1)}</td>
              <td>{r.p50Us !== undefined ? r.p50Us.toFixed(1) : ''}</td>
              <td>{r.p99Us !== undefined ? r.p99Us.toFixed(1) : ''}</td>
              <td data-testid="bench-ratio">{((x) => (x === undefined ? '' : `${fmt(x, 1)}x`))(ratioToPostMessage(rows, r))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {status === 'done' && <BarChart id="bench" title="Throughput (log scale): the channel beside postMessage" labels={labels} values={values} unit="MB/s" />}
      <p className="muted">
        Each test runs on a channel of its own (16 MiB rings) with the chosen wake mode; sink = JS → peer until the peer
        has consumed everything; echo = JS → peer → JS until every echo arrived; round trip = one 64-byte message in flight.
        postMessage rows: the same sizes posted to a worker, copied by structured clone or in a fresh transferred
        ArrayBuffer per message; "vs postMessage" is the channel's messages/s over the copy's.
      </p>
    </div>
  );
}
