// Creates the dashboard's channel. In Electron the peer is the native addon, reached
// through the preload (electron-transport.ts): echo and sink are its built-in handlers,
// the image handlers its plugins of the same names. In a plain browser it is a Web Worker
// running the TypeScript implementation of the native side (peer-worker.ts).
import { SharedMemoryChannel } from 'shared-memory-channel/browser';
import { ElectronTransport, electronBridge } from './electron-transport';
import { peerRequestFor, type PeerConfig, type PeerHandler } from './peer-protocol';
import { WorkerTransport } from './worker-transport';

export type { PeerHandler } from './peer-protocol';

export interface AppChannelConfig {
  r2nSize: number;
  n2rSize: number;
  wakeMode: 'doorbell' | 'poll' | 'spin';
  pollIntervalMs: number;
  drainBudgetMs: number;
  handler: PeerHandler;
  image?: { width: number; height: number; fps: number };
}

export const defaultConfig: AppChannelConfig = {
  r2nSize: 1 << 20,
  n2rSize: 4 << 20,
  wakeMode: 'doorbell',
  pollIntervalMs: 4,
  drainBudgetMs: 4,
  handler: 'echo',
  image: { width: 640, height: 480, fps: 30 },
};

export interface AppChannel {
  channel: SharedMemoryChannel;
  peerKind: 'electron' | 'worker';
  close(): void;
}

export async function createAppChannel(cfg: AppChannelConfig): Promise<AppChannel> {
  const peer: PeerConfig = { handler: cfg.handler, ...(cfg.image ? { image: cfg.image } : {}) };
  const bridge = electronBridge();
  if (bridge) return open(cfg, new ElectronTransport(bridge, peerRequestFor(peer)), 'electron');
  const worker = new Worker(new URL('./peer-worker.ts', import.meta.url), { type: 'module', name: 'smc-peer' });
  return open(cfg, new WorkerTransport(worker, peer), 'worker');
}

/** The channel over `transport`, once its peer has attached (cleaned up if it never does). */
async function open(cfg: AppChannelConfig, transport: ElectronTransport | WorkerTransport, peerKind: AppChannel['peerKind']): Promise<AppChannel> {
  const options = { wakeMode: cfg.wakeMode, pollIntervalMs: cfg.pollIntervalMs, drainBudgetMs: cfg.drainBudgetMs };
  const channel = new SharedMemoryChannel(cfg.r2nSize, cfg.n2rSize, { ...options, transport });
  try {
    await transport.whenAttached();
  } catch (e) {
    channel.cleanup();
    throw e;
  }
  return { channel, peerKind, close: () => channel.cleanup() };
}
