// Loads the Node-API addon and provides the in-process native transport. Node / Electron
// (main, preload, utility process, nodeIntegration renderer) only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localBuildDir, packageRoot, PACKAGE_NAME, REBUILD_COMMAND, selectPrebuild } from './prebuilds';
import { ChannelError } from './errors';
import { PluginFailureError } from './plugin-failure';
import type { PeerStats, PeerTransport, TransportStartOptions } from './transport';
import { VERSION } from './protocol/layout';

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
  /** Handler 'plugin': run plugins in a child process, the executable at pluginHostPath
   *  (docs/plugins.md, "Isolated plugins"). */
  isolate?: boolean;
  pluginHostPath?: string;
  /** With isolate: no progress for this long fails the channel (plugin_unresponsive). */
  isolateTimeoutMs?: number;
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
  /** The addon's counters (native/addon/addon.cpp, Stats()). */
  stats(): PeerStats;
  ref(): void;
  unref(): void;
  rearmDoorbell(): void;
  loseNextDoorbellCall(): void;
  loadPlugin(path: string, configJson?: string): void;
  unloadPlugin(): boolean;
}

interface Addon {
  NativeChannel: new (view: Uint8Array, options: object, doorbell: () => void) => NativeChannelHandle;
  protocolVersion: number;
}

let cached: Addon | null = null;

/** Where the addon and the example plugins are, in loading order (see prebuilds.ts). */
function binaryCandidates(): { addons: string[]; pluginDirs: string[]; notes: string[] } {
  const root = packageRoot();
  const local = localBuildDir(root);
  const choice = selectPrebuild(root);
  const addons = [path.join(local, 'smc.node')];
  const pluginDirs = [path.join(local, 'plugins')];
  const notes: string[] = [];
  if (choice.prebuild) {
    addons.push(choice.prebuild.addon);
    pluginDirs.push(choice.prebuild.pluginDir);
  } else {
    notes.push(choice.reason);
  }
  return { addons, pluginDirs, notes };
}

/**
 * The addon, loaded once per environment: SMC_ADDON_PATH if set, else the local build
 * (build/release), else the prebuilt binary for this platform.
 */
export function loadAddon(): Addon {
  if (cached) return cached;
  const { addons, notes } = binaryCandidates();
  const candidates = process.env.SMC_ADDON_PATH ? [process.env.SMC_ADDON_PATH] : addons;
  for (const p of candidates) {
    if (!fs.existsSync(p)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(p) as Addon;
    return cached;
  }
  throw new Error(
    `${PACKAGE_NAME}: no native addon for ${process.platform}-${process.arch}: looked for ${candidates.join(', ')}` +
      (process.env.SMC_ADDON_PATH ? ' (SMC_ADDON_PATH)' : notes.length ? `; ${notes.join('; ')}` : '') +
      `. Build it from source with '${REBUILD_COMMAND}' (needs CMake >= 3.20 and a C++20 compiler).`,
  );
}

/** The peer is a native thread of this process, run by the addon. */
export class AddonTransport implements PeerTransport {
  private handle: NativeChannelHandle | null = null;
  /** The native handle's finalizer stops the thread when the channel is dropped. */
  readonly finalizable = true;
  constructor(private readonly options: NativeHandlerOptions = {}) {}

  start({ buffer, doorbell }: TransportStartOptions): void {
    const addon = loadAddon();
    if (addon.protocolVersion !== VERSION) {
      // An addon of another release (a stale build or prebuild): it would refuse the region.
      throw new ChannelError(
        'unsupported',
        `${PACKAGE_NAME}: the native addon speaks wire protocol version ${String(addon.protocolVersion)}, this library version ${VERSION}: rebuild it with '${REBUILD_COMMAND}'`,
      );
    }
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
  rearmDoorbell(): void {
    this.handle?.rearmDoorbell();
  }
  /** @internal Fault injection for tests: the addon counts its next doorbell call and
   *  marks it queued but never makes it, as if Node never dispatched it. */
  loseNextDoorbellCall(): void {
    this.handle?.loseNextDoorbellCall();
  }
  stats(): PeerStats {
    return this.handle ? this.handle.stats() : {};
  }
  loadPlugin(path: string, configJson: string): void {
    if (!this.handle) throw new Error('loadPlugin(): the native channel is not running');
    this.handle.loadPlugin(path, configJson);
  }
  unloadPlugin(): boolean {
    return this.handle ? this.handle.unloadPlugin() : false;
  }
  /** An isolated plugin that failed the channel: why (the addon recorded it before it
   *  failed the channel's state word, so it is there when JS sees that word). */
  peerFailure(): PluginFailureError | null {
    const s = this.handle?.stats();
    if (!s || typeof s.isolateReason !== 'string' || s.isolateReason === '') return null;
    const num = (v: unknown): number | null => (typeof v === 'number' && v >= 0 ? v : null);
    return new PluginFailureError(s.isolateReason, String(s.isolateMessage), {
      signal: typeof s.isolateSignalName === 'string' && s.isolateSignalName !== '' ? s.isolateSignalName : null,
      signalNumber: s.isolateSignal !== 0 ? num(s.isolateSignal) : null,
      exitCode: num(s.isolateExitCode),
      pid: num(s.isolatePid),
    });
  }
}

/** File name of the plugin host executable that runs isolated plugins. */
const PLUGIN_HOST_FILE = 'smc_plugin_host';

/**
 * Path of the plugin host executable for `isolate: true` (docs/plugins.md): SMC_PLUGIN_HOST_PATH,
 * else beside the addon (SMC_ADDON_PATH's, else the local build's, then the prebuild's). Throws if
 * isolation is not supported here or the file is in none of them.
 */
export function pluginHostPath(): string {
  if (process.platform !== 'linux') {
    throw new ChannelError('unsupported', `isolate is not supported on this platform yet (${process.platform}; isolated plugins run on Linux only)`);
  }
  const { addons, notes } = binaryCandidates();
  // Beside the addon in use: SMC_ADDON_PATH's directory when it is set (a sanitizer build).
  const beside = process.env.SMC_ADDON_PATH ? [process.env.SMC_ADDON_PATH] : addons;
  const tried = process.env.SMC_PLUGIN_HOST_PATH ? [process.env.SMC_PLUGIN_HOST_PATH] : beside.map((a) => path.join(path.dirname(a), PLUGIN_HOST_FILE));
  const found = tried.find((p) => fs.existsSync(p));
  if (found) return found;
  throw new ChannelError(
    'unsupported',
    `${PACKAGE_NAME}: the plugin host executable for isolate is missing (tried ${tried.join(', ')}${notes.length ? `; ${notes.join('; ')}` : ''}); build it with '${REBUILD_COMMAND}'`,
  );
}

/** File name the build gives plugin `name` ('echo', 'image-source', 'image-filter'). */
export function pluginFileName(name: string): string {
  const n = name.replace(/-/g, '_');
  if (process.platform === 'win32') return `smc_${n}.dll`;
  return process.platform === 'darwin' ? `libsmc_${n}.dylib` : `libsmc_${n}.so`;
}

/**
 * Path of an example plugin, e.g. pluginPath('image-source'), for the `plugin` option or
 * loadPlugin(). Looks in SMC_PLUGIN_DIR, then beside the addon (the local build, then the
 * prebuild for this platform). Throws if the file is in none of them.
 */
export function pluginPath(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(`pluginPath(name): name must be a plugin name such as 'image-source', not ${JSON.stringify(name)}`);
  }
  const { pluginDirs, notes } = binaryCandidates();
  const dirs = process.env.SMC_PLUGIN_DIR ? [process.env.SMC_PLUGIN_DIR, ...pluginDirs] : pluginDirs;
  const tried = dirs.map((d) => path.join(d, pluginFileName(name)));
  const found = tried.find((p) => fs.existsSync(p));
  if (found) return found;
  throw new Error(
    `${PACKAGE_NAME}: plugin '${name}' not found for ${process.platform}-${process.arch} (tried ${tried.join(', ')}${notes.length ? `; ${notes.join('; ')}` : ''}); ` +
      `the example plugins are echo, image-source and image-filter; build them with '${REBUILD_COMMAND}'`,
  );
}
