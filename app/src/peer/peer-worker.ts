// A Web Worker running the TypeScript peer (ts-peer.ts) on the region it is sent.
//
// Messages in: { type: 'attach', buffer, config, doorbell?, control? }. With `control` (a
// SharedArrayBuffer, peer-control.ts) the host can swap the handler while the worker runs.
// With `doorbell` (an Int32Array
// over a small SAB of the host's) the worker does not wake the page itself: it sets
// doorbell[0] and posts { type: 'doorbell' } to whoever created it, which then notifies
// the page (the isolated-world e2e routes the peer -> page doorbell through the content
// script this way, as the addon's ThreadSafeFunction goes through the preload). Without
// it the worker notifies the page's words directly (the browser dashboard).
// Messages out: 'attached' | 'error' | 'stats' | 'doorbell' | 'exited' (the loop ended).
import { attachRegion, Endpoint } from 'shared-memory-channel/protocol';
import { ChannelClosedError } from 'shared-memory-channel/browser';
import type { PeerConfig } from './peer-protocol';
import { ControlServer } from './peer-control';
import { newCounters, runPeer } from './ts-peer';

// Typed narrowly so this file compiles with the DOM lib the rest of the app uses.
const scope = globalThis as unknown as {
  onmessage: ((ev: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

const stats = newCounters();
const report = (): void => scope.postMessage({ type: 'stats', stats: { ...stats } });

scope.onmessage = (ev: MessageEvent) => {
  const m = ev.data as { type: string; buffer?: SharedArrayBuffer; config?: PeerConfig; doorbell?: Int32Array; control?: SharedArrayBuffer };
  if (m.type !== 'attach' || !m.buffer || !m.config) return;
  const bell = m.doorbell;
  let ep: Endpoint;
  try {
    // Posting only when the flag was clear coalesces rings until the host has run one.
    const wake = bell ? () => void (Atomics.exchange(bell, 0, 1) === 0 && scope.postMessage({ type: 'doorbell' })) : undefined;
    ep = new Endpoint(attachRegion(m.buffer), 'N', wake ? { wake } : {});
  } catch (e) {
    scope.postMessage({ type: 'error', error: (e as Error).message });
    return;
  }
  scope.postMessage({ type: 'attached' });
  try {
    runPeer(ep, m.config, stats, report, m.control ? new ControlServer(m.control) : undefined);
  } catch (e) {
    // The page closing while we wait for room is the normal way out, not an error.
    if (!(e instanceof ChannelClosedError)) {
      stats.errors++;
      scope.postMessage({ type: 'error', error: (e as Error).message });
    }
  }
  try {
    ep.close();
  } catch {
    // already failed
  }
  report();
  scope.postMessage({ type: 'exited' });
  scope.close();
};
