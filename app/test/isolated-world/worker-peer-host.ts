// The peer host of the isolated-world e2e: in place of the native addon, the TypeScript
// peer (app/src/peer/ts-peer.ts, the Web Worker peer of the browser dashboard) on a Worker
// this content script starts, as the addon starts a native thread. Its doorbell comes to
// this world (the worker posts, as the addon's ThreadSafeFunction calls into the preload's
// loop) and the bridge turns it into Atomics.notify; wakes from the page are
// Atomics.notify from this world (the addon does a futex wake).
import type { PeerHandle, PeerHost } from '../../electron/bridge';
import type { PeerChoice } from '../../electron/peer-request';
import { N2R_WORDS, R2N_WORDS } from 'shared-memory-channel/protocol';
import type { PeerStats } from '../../src/peer/native-bridge-api';
import { CONTROL_BYTES, ControlClient } from '../../src/peer/peer-control';
import { peerConfigFor } from '../../src/peer/peer-protocol';

/** The TS peer implements these plugins of the app (native/plugins) under the same names. */
export const TS_PLUGINS = ['echo', 'image-filter', 'image-source'] as const;

export interface StartedPeer {
  buffer: SharedArrayBuffer;
  worker: Worker;
  running: boolean;
}

export function workerPeerHost(workerUrl: string, started: StartedPeer[]): PeerHost {
  return {
    plugins: TS_PLUGINS,
    start(buffer: SharedArrayBuffer, choice: PeerChoice, doorbell: () => void): Promise<PeerHandle> {
      const config = peerConfigFor('handler' in choice ? choice : { plugin: choice.plugin, config: JSON.parse(choice.configJson) as Record<string, unknown> });
      const ctrl = new Int32Array(buffer);
      // doorbell[0]: 1 while a 'doorbell' message is on its way here (the worker coalesces).
      const bell = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(workerUrl, { name: 'smc-ts-peer' });
      // loadPlugin / unloadPlugin: answered from the worker's loop, which sleeps on R2N
      // consumer_wake_seq (no data) or N2R producer_wake_seq (no room): wake it on both,
      // bumping each first so a worker about to wait does not miss it (protocol.md 5.2).
      const controlBuffer = new SharedArrayBuffer(CONTROL_BYTES);
      const control = new ControlClient(controlBuffer, () => {
        for (const word of [R2N_WORDS.consumerWakeSeq, N2R_WORDS.producerWakeSeq]) {
          Atomics.add(ctrl, word, 1);
          Atomics.notify(ctrl, word);
        }
      });
      let loaded = true;
      const record: StartedPeer = { buffer, worker, running: true };
      let stats: PeerStats = {};
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      return new Promise((resolve, reject) => {
        const handle: PeerHandle = {
          wake: (word) => void Atomics.notify(ctrl, word),
          close: () => {
            // The page closed its side first; the worker sees that, drains and exits
            // ('exited'). The timer only ends a worker that failed to.
            killTimer = setTimeout(() => {
              record.running = false;
              worker.terminate();
            }, 1000);
          },
          stats: () => stats,
          loadPlugin: (name, configJson) => {
            control.request({ op: 'load', name, config: JSON.parse(configJson) as Record<string, unknown> });
            loaded = true;
          },
          unloadPlugin: () => {
            control.request({ op: 'unload' });
            const was = loaded;
            loaded = false;
            return was;
          },
        };
        worker.onmessage = (ev: MessageEvent) => {
          const m = ev.data as { type: string; error?: string; stats?: PeerStats };
          if (m.type === 'doorbell') {
            Atomics.store(bell, 0, 0);
            doorbell();
          } else if (m.type === 'attached') {
            started.push(record);
            resolve(handle);
          } else if (m.type === 'stats' && m.stats) {
            stats = m.stats;
          } else if (m.type === 'exited') {
            record.running = false;
            clearTimeout(killTimer);
          } else if (m.type === 'error') {
            reject(new Error(`TypeScript peer: ${m.error ?? 'unknown error'}`));
          }
        };
        worker.onerror = (ev) => reject(new Error(`TypeScript peer worker failed to start: ${ev.message}`));
        worker.postMessage({ type: 'attach', buffer, config, doorbell: bell, control: controlBuffer });
      });
    },
  };
}
