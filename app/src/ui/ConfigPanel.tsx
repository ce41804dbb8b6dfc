// Configure: ring sizes, wake mode, timers, handler. Apply closes the channel and opens a new one.
import { useEffect, useState } from 'react';
import type { AppChannelConfig, PeerHandler } from '../peer/create';
import { imageOf, type Hub } from './hub';
import { formatBytes } from './hex';

const SIZES = Array.from({ length: 19 }, (_, i) => 4096 * 2 ** i); // 4 KiB .. 1 GiB
const HANDLERS: PeerHandler[] = ['echo', 'sink', 'image-source', 'image-filter'];

export function ConfigPanel({ hub }: { hub: Hub }) {
  const [cfg, setCfg] = useState<AppChannelConfig>(() => ({ ...hub.config, image: imageOf(hub.config) }));
  const [error, setError] = useState('');
  // After any Apply (here or from the Image tab) show what is active.
  useEffect(() => {
    setCfg({ ...hub.config, image: imageOf(hub.config) });
  }, [hub, hub.channelsCreated]);
  const set = <K extends keyof AppChannelConfig>(k: K, v: AppChannelConfig[K]): void => setCfg((c) => ({ ...c, [k]: v }));
  const img = imageOf(cfg);
  const setImg = (k: 'width' | 'height' | 'fps', v: number): void => setCfg((c) => ({ ...c, image: { ...img, [k]: v } }));

  const apply = (): void => {
    setError('');
    if (!(cfg.pollIntervalMs >= 1 && cfg.pollIntervalMs <= 60000)) return setError('poll interval must be 1..60000 ms');
    if (!(cfg.drainBudgetMs >= 0.1 && cfg.drainBudgetMs <= 1000)) return setError('drain budget must be 0.1..1000 ms');
    if (!(img.width >= 1 && img.height >= 1 && img.width * img.height <= 4096 * 4096)) return setError('image size out of range');
    void hub.apply({ ...cfg, image: { ...img } });
  };

  const sizeSelect = (id: string, key: 'r2nSize' | 'n2rSize') => (
    <select data-testid={id} value={cfg[key]} onChange={(e) => set(key, Number(e.target.value))}>
      {SIZES.map((s) => (
        <option key={s} value={s}>
          {formatBytes(s)}
        </option>
      ))}
    </select>
  );

  return (
    <div className="panel">
      <div className="grid">
        <label>JS → peer ring {sizeSelect('cfg-r2n', 'r2nSize')}</label>
        <label>peer → JS ring {sizeSelect('cfg-n2r', 'n2rSize')}</label>
        <label>
          Wake mode{' '}
          <select data-testid="cfg-wake" value={cfg.wakeMode} onChange={(e) => set('wakeMode', e.target.value as AppChannelConfig['wakeMode'])}>
            <option value="doorbell">doorbell</option>
            <option value="poll">poll</option>
            <option value="spin">spin</option>
          </select>
        </label>
        <label>
          Poll interval (ms){' '}
          <input data-testid="cfg-poll" type="number" min={1} max={60000} step="any" value={cfg.pollIntervalMs}
            onChange={(e) => set('pollIntervalMs', Number(e.target.value))} />
        </label>
        <label>
          Drain budget (ms){' '}
          <input data-testid="cfg-drain" type="number" min={0.1} max={1000} step="any" value={cfg.drainBudgetMs}
            onChange={(e) => set('drainBudgetMs', Number(e.target.value))} />
        </label>
        <label>
          Handler{' '}
          <select data-testid="cfg-handler" value={cfg.handler} onChange={(e) => set('handler', e.target.value as PeerHandler)}>
            {HANDLERS.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <label>
          Image width <input data-testid="cfg-width" type="number" min={1} max={4096} value={img.width} onChange={(e) => setImg('width', Number(e.target.value))} />
        </label>
        <label>
          Image height <input data-testid="cfg-height" type="number" min={1} max={4096} value={img.height} onChange={(e) => setImg('height', Number(e.target.value))} />
        </label>
        <label>
          Image fps <input data-testid="cfg-fps" type="number" min={1} max={240} value={img.fps} onChange={(e) => setImg('fps', Number(e.target.value))} />
        </label>
      </div>
      <div className="row">
        <button data-testid="cfg-apply" onClick={apply} disabled={hub.status === 'connecting'}>
          Apply (recreate channel)
        </button>
        {error && <span className="error" data-testid="cfg-error">{error}</span>}
      </div>
      <table className="kv">
        <tbody>
          <tr><th>Active</th><td data-testid="cfg-active">
            {hub.channel ? `${formatBytes(hub.config.r2nSize)} / ${formatBytes(hub.config.n2rSize)}, ${hub.config.wakeMode}, handler ${hub.config.handler}, ${hub.peerKind} peer` : '—'}
          </td></tr>
          <tr><th>Channels created</th><td data-testid="cfg-channels">{hub.channelsCreated}</td></tr>
          <tr><th>Retired channels closed</th><td data-testid="cfg-retired">
            {hub.retired.filter((c) => c.isClosed).length} / {hub.retired.length}
          </td></tr>
        </tbody>
      </table>
      <p className="muted">
        Rings are powers of two from 4 KiB to 1 GiB per direction. Very large rings may exceed what the browser lets one
        page allocate; the status line then shows the error.
      </p>
    </div>
  );
}
