// Loads the Node-API addon and provides the in-process native transport. Node / Electron
// (main, preload, utility process, nodeIntegration renderer) only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PeerTransport, TransportStartOptions } from './transport';

/** Options of the native side, passed to the addon. */
export interface NativeHandlerOptions {
  /** 'echo' (default) replies with the same bytes; 'sink' counts and drops; 'source'
   *  streams `sourceCount` messages of `sourceSize` bytes. */
  handler?: 'echo' | 'sink' | 'source';
  sourceCount?: number;
  sourceSize?: number;
  /** Handler 'sink': how each message is folded into the checksum: 'fnv1a' (default) or
   *  'sum32' (sum mod 2^32 of its little-endian u32 words, last one zero-padded; reads
   *  every byte at memory speed, for throughput benchmarks). */
  checksum?: 'fnv1a' | 'sum32';
  /** Native thread spins instead of parking (wake mode 'spin'). */
  spin?: boolean;
  spinIterations?: number;
  yieldIterations?: number;
  /** Upper bound on a parked native thread's sleep before it re-checks the JS side. */
  parkTimeoutMs?: number;
  maxMessage?: number;
}

interface NativeChannelHandle {
  wake(): void;
  close(): void;
  stats(): Record<string, number | string | boolean>;
  ref(): void;
  unref(): void;
}

interface Addon {
  NativeChannel: new (view: Uint8Array, options: object, doorbell: () => void) => NativeChannelHandle;
  protocolVersion: number;
}

let cached: Addon | null = null;

function findPackageRoot(start: string): string | null {
  let dir = start;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'shared-memory-channel') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The addon (loaded once per environment). SMC_ADDON_PATH overrides the location. */
export function loadAddon(): Addon {
  if (cached) return cached;
  const tried: string[] = [];
  const candidates: string[] = [];
  if (process.env.SMC_ADDON_PATH) candidates.push(process.env.SMC_ADDON_PATH);
  const root = findPackageRoot(__dirname);
  if (root) candidates.push(path.join(root, 'build', 'release', 'smc.node'));
  for (const p of candidates) {
    tried.push(p);
    if (!fs.existsSync(p)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(p) as Addon;
    return cached;
  }
  throw new Error(`shared-memory-channel: native addon not found (tried ${tried.join(', ')}); run 'npm install' (or 'npm run build') to build it`);
}

/** The peer is a native thread of this process, run by the addon. */
export class AddonTransport implements PeerTransport {
  private handle: NativeChannelHandle | null = null;
  constructor(private readonly options: NativeHandlerOptions = {}) {}

  start({ buffer, doorbell }: TransportStartOptions): void {
    const addon = loadAddon();
    this.handle = new addon.NativeChannel(new Uint8Array(buffer), { ...this.options }, doorbell);
  }
  wake(): void {
    this.handle?.wake();
  }
  close(): void {
    const h = this.handle;
    this.handle = null;
    h?.close();
  }
  ref(): void {
    this.handle?.ref();
  }
  unref(): void {
    this.handle?.unref();
  }
  stats(): Record<string, number | string | boolean> {
    return this.handle ? this.handle.stats() : {};
  }
}
