// The dashboard shell: status line, tabs, and every panel (kept mounted, hidden when
// inactive, so a flood or a stream keeps running while another tab is shown).
import { useEffect, useState } from 'react';
import type { Hub, Tab } from './hub';
import { BenchPanel } from './BenchPanel';
import { ConfigPanel } from './ConfigPanel';
import { ImagePanel } from './ImagePanel';
import { LogPanel } from './LogPanel';
import { PerfPanel } from './PerfPanel';
import { SendPanel } from './SendPanel';

const TABS: { id: Tab; label: string }[] = [
  { id: 'send', label: 'Send' },
  { id: 'config', label: 'Configure' },
  { id: 'perf', label: 'Live performance' },
  { id: 'image', label: 'Image stream' },
  { id: 'bench', label: 'Benchmark' },
  { id: 'log', label: 'Log' },
];

/** Re-renders the caller whenever the hub notifies (4 Hz sampling + status changes). */
export function useHub(hub: Hub): number {
  const [tick, setTick] = useState(0);
  useEffect(() => hub.subscribe(() => setTick((t) => (t + 1) & 0x3fffffff)), [hub]);
  return tick;
}

export function App({ hub }: { hub: Hub }) {
  useHub(hub);
  const [tab, setTab] = useState<Tab>('send');
  const statusText =
    hub.status === 'connected'
      ? `connected (${hub.statusDetail})`
      : hub.status === 'connecting'
        ? `connecting… ${hub.statusDetail}`
        : hub.status === 'error'
          ? `error: ${hub.statusDetail}`
          : hub.status;
  return (
    <div className="app">
      <header>
        <h1>SharedMemoryChannel</h1>
        <span className={`status status-${hub.status}`} data-testid="status">
          {statusText}
        </span>
        <span className="iso" data-testid="isolation">
          {globalThis.crossOriginIsolated ? 'cross-origin isolated' : 'NOT cross-origin isolated (no SharedArrayBuffer)'}
        </span>
      </header>
      <nav role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            role="tab"
            aria-selected={tab === t.id}
            className={tab === t.id ? 'active' : ''}
            data-testid={`tab-${t.id}`}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </nav>
      <main>
        <section data-testid="panel-send" hidden={tab !== 'send'}>
          <SendPanel hub={hub} />
        </section>
        <section data-testid="panel-config" hidden={tab !== 'config'}>
          <ConfigPanel hub={hub} />
        </section>
        <section data-testid="panel-perf" hidden={tab !== 'perf'}>
          <PerfPanel hub={hub} />
        </section>
        <section data-testid="panel-image" hidden={tab !== 'image'}>
          <ImagePanel hub={hub} active={tab === 'image'} />
        </section>
        <section data-testid="panel-bench" hidden={tab !== 'bench'}>
          <BenchPanel hub={hub} />
        </section>
        <section data-testid="panel-log" hidden={tab !== 'log'}>
          <LogPanel hub={hub} active={tab === 'log'} />
        </section>
      </main>
    </div>
  );
}
