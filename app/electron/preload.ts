// Preload (isolated world, unsandboxed): loads the native addon and bridges the page's
// SharedArrayBuffer to it. See docs/electron.md for why each route was chosen.
//   buffer:   page --window.postMessage--> here (shares the SAB; contextBridge would copy)
//   page->N:  window.smcNative.wake(token, word) (contextBridge function: a synchronous call)
//   N->page:  the addon's ThreadSafeFunction runs here; Atomics.notify wakes the page's
//             Atomics.waitAsync on the watched words.
import { contextBridge } from 'electron';
import { AddonTransport } from 'shared-memory-channel';
import { N2R_WORDS, R2N_WORDS } from 'shared-memory-channel/protocol';
import { pendingAttach, type AttachRequest } from './bridge-state';

const channels = new Map<string, { transport: AddonTransport; ctrl: Int32Array }>();
const buffers = new Map<string, SharedArrayBuffer>();

window.addEventListener('message', (ev: MessageEvent) => {
  const req = pendingAttach(ev.data as AttachRequest, ev.origin, window.location.origin);
  if (req) buffers.set(req.token, req.buffer);
});

contextBridge.exposeInMainWorld('smcNative', {
  attach(token: string, config: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // The postMessage from the page is queued before this call returns to it; give the
      // event loop one turn to deliver it.
      setTimeout(() => {
        const buffer = buffers.get(token);
        buffers.delete(token);
        if (!buffer) return reject(new Error(`smcNative.attach: no SharedArrayBuffer was posted for token ${token}`));
        try {
          const cfg = JSON.parse(config) as { handler?: string };
          const handler = cfg.handler === 'sink' ? 'sink' : 'echo';
          const ctrl = new Int32Array(buffer);
          const transport = new AddonTransport({ handler });
          transport.start({
            buffer,
            doorbell: () => {
              // The page parks on N2R write_index (data) or R2N read_index (space).
              Atomics.notify(ctrl, N2R_WORDS.writeIndex);
              Atomics.notify(ctrl, R2N_WORDS.readIndex);
            },
          });
          transport.ref();
          channels.set(token, { transport, ctrl });
          resolve();
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }, 0);
    });
  },
  wake(token: string, word: number): void {
    channels.get(token)?.transport.wake(word); // the addon validates the word
  },
  close(token: string): void {
    const ch = channels.get(token);
    channels.delete(token);
    ch?.transport.close();
  },
  stats(token: string): Record<string, number | string | boolean> {
    return channels.get(token)?.transport.stats() ?? {};
  },
});
