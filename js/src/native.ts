// Loads the Node-API addon and provides the in-process native transport. Node / Electron
// (main, preload, utility process, nodeIntegration renderer) only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localBuildDir, packageRoot, PACKAGE_NAME, REBUILD_COMMAND, selectPrebuild } from './prebuilds';
import { ChannelError } from './errors';
import { checkNumber, describe } from './options';
import { PluginFailureError } from './plugin-failure';
import type { PeerStats, PeerTransport, TransportStartOptions } from './transport';
import { FAILURE_REASON_NAMES, REASON_LOCAL_ERROR, VERSION } from './protocol/layout';

/** The built-in native handlers. The core's make_handler (native/src/handlers.cpp) is what
 *  knows and checks them: an unknown name is refused there, naming the allowed ones. */
export type NativeHandler = 'echo' | 'sink' | 'source' | 'plugin';

/** The native side's settings: the options of AddonTransport. */
export interface NativeHandlerOptions {
  /** 'echo' (default) replies with the same bytes; 'sink' counts and drops; 'source'
   *  streams `sourceCount` messages of `sourceSize` bytes; 'plugin' runs a native plugin
   *  (`plugin`; without it the slot starts empty, for loadPlugin()). */
  handler?: NativeHandler;
  /** Path of a native plugin to run (docs/plugins.md; pluginPath('echo') gives the built
   *  examples). Implies handler 'plugin'. A load failure throws an Error naming the path. */
  plugin?: string;
  /** The plugin's configuration, passed to its create() as JSON. Default {}. */
  config?: unknown;
  /** The same as `plugin` and `config` (a JSON text), in the addon's own terms. */
  pluginPath?: string;
  pluginConfig?: string;
  /** Handler 'plugin': run plugins in a child process (Linux): a crash, hang or ring
   *  corruption fails the channel with a PluginFailureError instead of killing the app
   *  (docs/plugins.md, "Isolated plugins"). Default false. */
  isolate?: boolean;
  /** With isolate: the smc_plugin_host executable. Default: pluginHostPath(). */
  pluginHostPath?: string;
  /** With isolate: a plugin callback, or a message waiting for the plugin, this long
   *  without progress fails the channel with plugin_unresponsive (10 .. 3600000 ms; also
   *  the limit on loading). Default 5000. */
  isolateTimeoutMs?: number;
  /** Handler 'source': messages to stream and their size (default 0 and 64). */
  sourceCount?: number;
  sourceSize?: number;
  /** Handler 'sink': how each message is folded into the checksum: 'fnv1a' (default) or
   *  'sum32' (sum mod 2^32 of its little-endian u32 words, last one zero-padded; reads
   *  every byte at memory speed, for throughput benchmarks). */
  checksum?: 'fnv1a' | 'sum32';
  /** Handler 'sink': take messages larger than one record fragment by fragment as they
   *  arrive (the native streaming receive, smc::FragmentSink) instead of reassembled. */
  stream?: boolean;
  /** Native thread spins instead of parking. Default: the channel's wakeMode is 'spin'. */
  spin?: boolean;
  spinIterations?: number;
  yieldIterations?: number;
  /** Upper bound on a parked native thread's sleep before it re-checks the JS side. */
  parkTimeoutMs?: number;
  /** Largest message the native side accepts. Default: the channel's maxMessage. */
  maxMessage?: number;
  /** The native side's reassembly keep limit (EndpointOptions::keep_assembly). Default:
   *  the channel's keepAssembly. */
  keepAssembly?: number;
}

/** The native side's settings accepted as channel options too, the form of earlier
 *  versions: the channel hands them to the AddonTransport it creates when it is given no
 *  transport. Each is deprecated: pass it to an AddonTransport instead. */
export interface DeprecatedNativeOptions {
  /** @deprecated Use `transport: new AddonTransport({ handler })`. */
  handler?: NativeHandler;
  /** @deprecated Use `transport: new AddonTransport({ plugin })`. */
  plugin?: string;
  /** @deprecated Use `transport: new AddonTransport({ plugin, config })`. */
  config?: unknown;
  /** @deprecated Use `transport: new AddonTransport({ plugin, isolate })`. */
  isolate?: boolean;
  /** @deprecated Use `transport: new AddonTransport({ plugin, isolate, isolateTimeoutMs })`. */
  isolateTimeoutMs?: number;
  /** @deprecated Use `transport: new AddonTransport({ handler: 'source', sourceCount })`. */
  sourceCount?: number;
  /** @deprecated Use `transport: new AddonTransport({ handler: 'source', sourceSize })`. */
  sourceSize?: number;
}

/**
 * The options the addon gets (native/addon/addon.cpp): `plugin` and `config` in its terms,
 * the plugin host found for `isolate`. Checks what only JS can (a config JSON cannot
 * express, isolate without a plugin); the addon checks types and ranges, the core the
 * handler's name.
 */
function addonOptions(o: NativeHandlerOptions): Record<string, unknown> {
  if (typeof o !== 'object' || o === null) throw new TypeError(`AddonTransport options must be an object, not ${describe(o)}`);
  const { plugin, config, ...rest } = o;
  const out: Record<string, unknown> = { ...rest };
  if (o.isolate !== undefined && typeof o.isolate !== 'boolean') throw new TypeError(`options.isolate must be a boolean, not ${describe(o.isolate)}`);
  if (o.isolateTimeoutMs !== undefined) checkNumber('isolateTimeoutMs', o.isolateTimeoutMs, 10, 3600000, true);
  if (plugin !== undefined) {
    if (o.pluginPath !== undefined) throw new TypeError('options.plugin and options.pluginPath name the same thing: pass one of them');
    out.handler = 'plugin';
    out.pluginPath = plugin;
  }
  if (config !== undefined) {
    if (o.pluginConfig !== undefined) throw new TypeError('options.config and options.pluginConfig name the same thing: pass one of them');
    let json: unknown;
    try {
      json = JSON.stringify(config);
    } catch (e) {
      throw new TypeError(`options.config must be JSON-serializable (the plugin gets it as JSON): ${(e as Error).message}`);
    }
    if (typeof json !== 'string') throw new TypeError(`options.config must be JSON-serializable (the plugin gets it as JSON), not ${describe(config)}`);
    out.pluginConfig = json;
  }
  if ((o.isolate === true || o.isolateTimeoutMs !== undefined) && out.handler !== 'plugin') {
    throw new TypeError(`options.${o.isolate === true ? 'isolate' : 'isolateTimeoutMs'} needs a plugin: pass options.plugin (or handler 'plugin' for a later loadPlugin())`);
  }
  if (o.isolate === true && o.pluginHostPath === undefined) out.pluginHostPath = pluginHostPath();
  return out;
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
  private readonly options: Record<string, unknown>;
  /** Throws TypeError / RangeError for options JS can check (see NativeHandlerOptions);
   *  the addon checks the rest when the channel starts it. */
  constructor(options: NativeHandlerOptions = {}) {
    this.options = addonOptions(options);
  }

  start({ buffer, doorbell, wakeMode, maxMessage, keepAssembly }: TransportStartOptions): void {
    const addon = loadAddon();
    if (addon.protocolVersion !== VERSION) {
      // An addon of another release (a stale build or prebuild): it would refuse the region.
      throw new ChannelError(
        'unsupported',
        `${PACKAGE_NAME}: the native addon speaks wire protocol version ${String(addon.protocolVersion)}, this library version ${VERSION}: rebuild it with '${REBUILD_COMMAND}'`,
      );
    }
    const channelDefaults = {
      ...(wakeMode !== undefined ? { spin: wakeMode === 'spin' } : {}),
      ...(maxMessage !== undefined ? { maxMessage } : {}),
      ...(keepAssembly !== undefined ? { keepAssembly } : {}),
    };
    this.handle = new addon.NativeChannel(new Uint8Array(buffer), { ...channelDefaults, ...this.options }, doorbell);
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
  peerStopped(): number | null {
    const s = this.handle?.stats();
    if (!s || s.running !== false) return null;
    if (typeof s.failure !== 'string' || s.failure === 'none') return 0;
    const reason = FAILURE_REASON_NAMES.indexOf(s.failure);
    return reason > 0 ? reason : REASON_LOCAL_ERROR;
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
