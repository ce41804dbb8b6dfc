// Image stream: frames from the 'image-source' peer drawn from the received bytes, or a
// round trip through the 'image-filter' peer (the page generates the frames).
import { useEffect, useRef, useState } from 'react';
import type { AppChannelConfig } from '../peer/create';
import { imageOf, type Hub } from './hub';
import type { FilterName } from './image-sink';

const MIN_N2R = 16 << 20;
const MIN_R2N_FILTER = 16 << 20;

export function ImagePanel({ hub, active }: { hub: Hub; active: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [filter, setFilter] = useState<FilterName>('grayscale');
  const img = hub.image;
  const handler = hub.config.handler;
  // What the user asked for shows at once; it stays on only while the filter peer is active.
  const [wantFilter, setWantFilter] = useState(false);
  const filterOn = wantFilter && (hub.status === 'connecting' || (handler === 'image-filter' && hub.filter.active));

  // Draw the latest frame once per animation frame while the tab is shown.
  useEffect(() => {
    if (!active) return;
    let raf = 0;
    const loop = (): void => {
      if (canvas.current) img.draw(canvas.current);
      raf = requestAnimationFrame(loop);
    };
    raf = requestAnimationFrame(loop);
    return () => cancelAnimationFrame(raf);
  }, [active, img]);

  const reconfigure = async (h: 'image-source' | 'image-filter'): Promise<void> => {
    const c = hub.config;
    const cfg: AppChannelConfig = {
      ...c,
      handler: h,
      n2rSize: Math.max(c.n2rSize, MIN_N2R),
      r2nSize: h === 'image-filter' ? Math.max(c.r2nSize, MIN_R2N_FILTER) : c.r2nSize,
      image: imageOf(c),
    };
    await hub.apply(cfg);
  };

  const startStream = (): void => void reconfigure('image-source');
  const toggleFilter = async (on: boolean): Promise<void> => {
    setWantFilter(on);
    if (on) {
      await reconfigure('image-filter');
      hub.runFilterLoop(filter).catch(() => undefined);
    } else {
      hub.stopFilter();
      await reconfigure('image-source');
    }
    hub.notify();
  };

  return (
    <div className="panel">
      <div className="row">
        <button data-testid="image-start" onClick={startStream} disabled={hub.status === 'connecting'}>
          {handler === 'image-source' ? 'Restart stream' : 'Start stream (handler image-source)'}
        </button>
        <label>
          <input
            type="checkbox"
            data-testid="image-filter-toggle"
            checked={filterOn}
            disabled={hub.status === 'connecting'}
            onChange={(e) => void toggleFilter(e.target.checked)}
          />{' '}
          filter round trip (page → image-filter peer → page)
        </label>
        <select
          data-testid="image-filter"
          value={filter}
          onChange={(e) => {
            const f = e.target.value as FilterName;
            setFilter(f);
            hub.filter.name = f;
          }}
        >
          <option value="grayscale">grayscale</option>
          <option value="invert">invert</option>
          <option value="blur">blur</option>
        </select>
      </div>
      <table className="kv">
        <tbody>
          <tr>
            <th>fps (received)</th>
            <td data-testid="image-fps">{img.fps.toFixed(1)}</td>
            <th>frames</th>
            <td data-testid="image-frames">{img.frames}</td>
            <th>dropped (frame-number gaps)</th>
            <td data-testid="image-dropped">{img.dropped}</td>
          </tr>
          <tr>
            <th>size</th>
            <td data-testid="image-size">{img.width ? `${img.width}×${img.height}` : '–'}</td>
            <th>drawn</th>
            <td data-testid="image-drawn">{img.drawn}</td>
            <th>filter round trip</th>
            <td data-testid="image-rtt">{Number.isFinite(img.lastRttMs) ? `${img.lastRttMs.toFixed(1)} ms` : '–'}</td>
          </tr>
        </tbody>
      </table>
      {img.badFrames > 0 && <p className="error">{img.badFrames} bad frames: {img.lastError}</p>}
      {handler !== 'image-source' && handler !== 'image-filter' && (
        <p className="muted">The peer's handler is '{handler}': start the stream to switch it to 'image-source'.</p>
      )}
      <canvas data-testid="image-canvas" ref={canvas} width={640} height={480} className="frame" />
    </div>
  );
}
