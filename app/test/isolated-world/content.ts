// The extension's ISOLATED-world content script: the stand-in for Electron's preload. It
// runs the preload's bridge (app/electron/bridge.ts) unchanged, with the two Electron
// pieces replaced: contextBridge.exposeInMainWorld by a CustomEvent shim, the native addon
// by the TypeScript peer on a Worker. Answers the e2e's probes by window.postMessage.
import { N2R_WORDS, R2N_WORDS } from 'shared-memory-channel/protocol';
import { installBridge } from '../../electron/bridge';
import { exposeViaEvents } from './expose-events';
import { workerPeerHost, type StartedPeer } from './worker-peer-host';

declare const __SMC_PEER_WORKER_PATH__: string;

// On the page's origin: the page's CSP allows workers from 'self' only (the e2e serves it).
const workerUrl = new URL(__SMC_PEER_WORKER_PATH__, location.origin).href;
const started: StartedPeer[] = [];
const bridge = installBridge({
  expose: (name, api) => exposeViaEvents(window, name, api),
  window,
  host: workerPeerHost(workerUrl, started),
});

// The e2e asks what this world sees of the newest channel's buffer: a copy would keep the
// values it had at attach time; shared memory shows the page's latest writes.
window.addEventListener('message', (ev: MessageEvent) => {
  const d = ev.data as { smcProbe?: unknown } | null;
  if (ev.origin !== location.origin || d === null || typeof d !== 'object' || typeof d.smcProbe !== 'number') return;
  const last = started[started.length - 1];
  const ctrl = last ? new Int32Array(last.buffer) : null;
  window.postMessage(
    {
      smcProbeReply: d.smcProbe,
      isolatedWorld: typeof (window as unknown as { __smc?: unknown }).__smc === 'undefined',
      crossOriginIsolated: globalThis.crossOriginIsolated,
      bufferIsShared: last ? last.buffer instanceof SharedArrayBuffer : false,
      byteLength: last?.buffer.byteLength ?? 0,
      r2nWriteIndex: ctrl ? Atomics.load(ctrl, R2N_WORDS.writeIndex) : null,
      n2rWriteIndex: ctrl ? Atomics.load(ctrl, N2R_WORDS.writeIndex) : null,
      openChannels: bridge.openChannels(),
      peersStarted: started.length,
      peersRunning: started.filter((p) => p.running).length,
      pendingAttach: bridge.handshake.pending,
    },
    location.origin,
  );
});
