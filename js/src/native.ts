// Loads the Node-API addon and provides the in-process native transport. Node / Electron
// (main, preload, utility process, nodeIntegration renderer) only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PeerTransport, TransportStartOptions } from './transport';

/** Options of the native side, passed to the addon. */
export interface NativeHandlerOptions {
  /** 'echo' (default) replies with the same bytes; 'sink' counts and drops; 'source'
   *  streams `sourceCount` messages of `sourceSize` bytes. */
  handler?: 'echo' | 'sink' | 'source' | 'plugin';
  /** Handler 'plugin': the plugin to load at once (docs/plugins.md); none: an empty slot
   *  for loadPlugin(). */
  pluginPath?: string;
  /** Handler 'plugin': its configuration as a JSON text (default "{}"). */
  pluginConfig?: string;
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
  wake(word: number): void;
  close(): void;
  stats(): Record<string, number | string | boolean>;
  ref(): void;
  unref(): void;
  loadPlugin(path: string, configJson?: string): void;
  unloadPlugin(): boolean;
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
  /** The native handle's finalizer stops the thread when the channel is dropped. */
  readonly finalizable = true;
  constructor(private readonly options: NativeHandlerOptions = {}) {}

  start({ buffer, doorbell }: TransportStartOptions): void {
    const addon = loadAddon();
    this.handle = new addon.NativeChannel(new Uint8Array(buffer), { ...this.options }, doorbell);
  }
  wake(word: number): void {
    this.handle?.wake(word);
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
  loadPlugin(path: string, configJson: string): void {
    if (!this.handle) throw new Error('loadPlugin(): the native channel is not running');
    this.handle.loadPlugin(path, configJson);
  }
  unloadPlugin(): boolean {
    return this.handle ? this.handle.unloadPlugin() : false;
  }
}

/** File name the build gives plugin `name` ('echo', 'image-source', 'image-filter'). */
export function pluginFileName(name: string): string {
  const n = name.replace(/-/g, '_');
  if (process.platform === 'win32') return `smc_${n}.dll`;
  return process.platform === 'darwin' ? `libsmc_${n}.dylib` : `libsmc_${n}.so`;
}

/**
 * Path of a built example plugin, e.g. pluginPath('image-source'), for the `plugin`
 * option or loadPlugin(). Looks in SMC_PLUGIN_DIR, then in the package's
 * build/release/plugins. Throws if the file is not there.
 */
export function pluginPath(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(`pluginPath(name): name must be a plugin name such as 'image-source', not ${JSON.stringify(name)}`);
  }
  const dirs: string[] = [];
  if (process.env.SMC_PLUGIN_DIR) dirs.push(process.env.SMC_PLUGIN_DIR);
  const root = findPackageRoot(__dirname);
  if (root) dirs.push(path.join(root, 'build', 'release', 'plugins'));
  const tried = dirs.map((d) => path.join(d, pluginFileName(name)));
  const found = tried.find((p) => fs.existsSync(p));
  if (found) return found;
  throw new Error(`shared-memory-channel: plugin '${name}' not found (tried ${tried.join(', ')}); run 'npm run build' to build the example plugins`);
}
