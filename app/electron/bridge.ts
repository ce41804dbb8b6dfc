// The preload's bridge between the page and its peer, with every world-specific piece
// passed in: how to expose an API to the main world (Electron: contextBridge; the e2e's
// extension content script: a CustomEvent shim), the window whose 'message' events carry
// the page's buffer, and the peer host (Electron: the native addon and its plugins; the
// e2e: the TypeScript peer in a Worker). The same code runs in both, so the isolated-world
// e2e exercises the handshake, name checks and doorbell routes Electron runs.
import { N2R_WORDS, R2N_WORDS } from 'shared-memory-channel/protocol';
import type { PeerStats, SmcNativeApi } from '../src/peer/native-bridge-api';
import { AttachHandshake, type Timers } from './attach-handshake';
import { checkConfigJson, checkPluginName, parseAttachRequest, type PeerChoice } from './peer-request';

/** A running peer, as the bridge drives it. */
export interface PeerHandle {
  wake(word: number): void;
  close(): void;
  stats(): PeerStats;
  /** `name` was checked against the host's plugins. */
  loadPlugin(name: string, configJson: string): void;
  unloadPlugin(): boolean;
}

export interface PeerHost {
  /** The plugins this host can run, by name: the only names the page may ask for. */
  readonly plugins: readonly string[];
  /** Attaches a peer to the page's region. `doorbell` must be called in this world when
   *  the peer saw the page parked; the bridge turns it into Atomics.notify. */
  start(buffer: SharedArrayBuffer, peer: PeerChoice, doorbell: () => void): PeerHandle | Promise<PeerHandle>;
}

export interface BridgeWindow {
  addEventListener(type: 'message', listener: (ev: { data: unknown; origin: string }) => void): void;
  readonly location: { readonly origin: string };
}

export interface BridgeDeps {
  /** contextBridge.exposeInMainWorld, or its stand-in. */
  expose(name: string, api: SmcNativeApi): void;
  window: BridgeWindow;
  host: PeerHost;
  /** How long attach waits for the page's buffer (default 5000 ms). */
  attachTimeoutMs?: number;
  timers?: Timers;
  warn?: (msg: string) => void;
}

/** The words the peer sleeps on; wake() accepts only these. */
const PEER_WORDS = new Map<number, string>([
  [R2N_WORDS.consumerWakeSeq, 'R2N consumer_wake_seq'],
  [N2R_WORDS.producerWakeSeq, 'N2R producer_wake_seq'],
]);

interface Entry {
  peer: PeerHandle | null;
  closed: boolean;
}

export interface Bridge {
  readonly api: SmcNativeApi;
  readonly handshake: AttachHandshake;
  /** Open channels (attached and not closed). */
  openChannels(): number;
}

export function installBridge(deps: BridgeDeps): Bridge {
  const { host } = deps;
  const handshake = new AttachHandshake(deps.window.location.origin, deps.attachTimeoutMs ?? 5000, deps.timers, deps.warn);
  const channels = new Map<string, Entry>();
  deps.window.addEventListener('message', (ev) => handshake.onMessage(ev.data, ev.origin));

  const open = (token: unknown, what: string): PeerHandle => {
    const e = typeof token === 'string' ? channels.get(token) : undefined;
    if (!e?.peer || e.closed) throw new Error(`smcNative.${what}: no open channel has token ${JSON.stringify(token)}`);
    return e.peer;
  };

  const api: SmcNativeApi = {
    async attach(token: string, requestJson: string): Promise<void> {
      // Checked before waiting, so a bad request fails at once, not after the timeout; a
      // refused request still uses up its token (and drops its buffer if it came).
      let request;
      try {
        request = parseAttachRequest(requestJson, host.plugins);
      } catch (e) {
        handshake.consume(token);
        throw e;
      }
      // Registered before the wait, so a close() while the buffer is still on its way is
      // seen (a second attach with a token in use is refused by the handshake below).
      const entry: Entry = { peer: null, closed: false };
      const mine = !channels.has(token);
      if (mine) channels.set(token, entry);
      let buffer: SharedArrayBuffer;
      try {
        buffer = await handshake.expect(token, request.rings);
        if (entry.closed) throw new Error(`smcNative.attach: the channel with token ${token} was closed before its buffer arrived`);
      } catch (e) {
        if (mine) channels.delete(token);
        throw e;
      }
      const ctrl = new Int32Array(buffer);
      try {
        // The page waits on N2R consumer_wake_seq (for data) or R2N producer_wake_seq (for
        // space); the native side bumped the word before it rang (docs/protocol.md 5.2).
        entry.peer = await host.start(buffer, request.peer, () => {
          Atomics.notify(ctrl, N2R_WORDS.consumerWakeSeq);
          Atomics.notify(ctrl, R2N_WORDS.producerWakeSeq);
        });
      } catch (e) {
        channels.delete(token);
        throw e instanceof Error ? e : new Error(String(e));
      }
      if (entry.closed) {
        // The page closed while the peer was starting.
        entry.peer.close();
        channels.delete(token);
        throw new Error(`smcNative.attach: the channel with token ${token} was closed while its peer started`);
      }
    },
    wake(token: string, word: number): void {
      const peer = open(token, 'wake');
      if (!PEER_WORDS.has(word)) {
        const allowed = [...PEER_WORDS].map(([w, n]) => `${w} (${n})`).join(' or ');
        throw new RangeError(`smcNative.wake: word ${JSON.stringify(word)} is not one the peer sleeps on: ${allowed}`);
      }
      peer.wake(word);
    },
    close(token: string): void {
      const e = typeof token === 'string' ? channels.get(token) : undefined;
      if (!e || e.closed) return;
      e.closed = true;
      // A pending attach sees `closed` and cleans up itself.
      if (e.peer) {
        channels.delete(token);
        e.peer.close();
      }
    },
    stats(token: string): PeerStats {
      return open(token, 'stats').stats();
    },
    loadPlugin(token: string, name: string, configJson: string): void {
      const peer = open(token, 'loadPlugin');
      const checked = checkPluginName(name, host.plugins, 'loadPlugin');
      peer.loadPlugin(checked, checkConfigJson(configJson, `loadPlugin('${checked}')`));
    },
    unloadPlugin(token: string): boolean {
      return open(token, 'unloadPlugin').unloadPlugin();
    },
  };
  deps.expose('smcNative', Object.freeze(api));
  return { api, handshake, openChannels: () => [...channels.values()].filter((e) => e.peer && !e.closed).length };
}
