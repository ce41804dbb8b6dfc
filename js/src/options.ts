// The options of a SharedMemoryChannel and their validation: every bad value is refused
// at construction with a message naming the option, the value and what is allowed.
import { DEFAULT_KEEP_ASSEMBLY } from './protocol/framer';
import { MAX_CAPACITY, MIN_CAPACITY } from './protocol/layout';
import type { DeprecatedNativeOptions } from './native';
import type { PeerTransport } from './transport';

export type WakeMode = 'doorbell' | 'poll' | 'spin';

export interface ChannelOptions {
  /** How this side learns that messages arrived: 'doorbell' (default; no CPU when idle),
   *  'poll' (a timer every pollIntervalMs), 'spin' (drain continuously; the native
   *  thread spins too: for latency-critical dedicated threads). */
  wakeMode?: WakeMode;
  /** Timer period of wake mode 'poll', ms (1 .. 60000). Default 4. */
  pollIntervalMs?: number;
  /** Longest time one drain may run before yielding to the event loop, ms (0.1 .. 1000). Default 4. */
  drainBudgetMs?: number;
  /** Bytes the JS send queue may hold; past it send() returns false. Default 16 MiB. */
  highWaterMark?: number;
  /** Largest incoming message accepted, bytes. Default 2^32 - 1. */
  maxMessage?: number;
  /** Bytes of reassembly buffer each side keeps between large messages (those larger than
   *  one record, a quarter of the ring), so that the next one reuses warm memory instead of
   *  paying the first touch of fresh pages. A message up to it is reassembled into one
   *  buffer of its size, kept; a larger one grows its buffer as its fragments arrive and
   *  frees it after delivery. Applies to this side and to a peer that adopts it (the
   *  addon does). 0 .. 2^32 - 1; default 64 MiB (DEFAULT_KEEP_ASSEMBLY). */
  keepAssembly?: number;
  /** Keep the process alive for the whole time the channel is open, even while it neither
   *  receives nor has sends pending (Node). Default false: a channel keeps the process
   *  alive while it receives or has sends pending, like a Node handle (docs/api.md). */
  keepAlive?: boolean;
  /** The peer, and the settings of the peer (a native handler or plugin: an AddonTransport
   *  with its options). Default: the in-process native addon, echoing (the package's Node
   *  entry; the browser entry has no default). */
  transport?: PeerTransport;
  /** Touch every page of both rings at construction, so no message pays the first touch
   *  of fresh memory (several microseconds per 4 KiB page on some VMs); construction pays
   *  it instead (docs/benchmarks.md has the cost). Default false. */
  prefault?: boolean;
}

/** What the constructor accepts: the channel's options, and the deprecated native ones. */
export type ChannelConstructorOptions = ChannelOptions & DeprecatedNativeOptions;

/** The deprecated native settings (native.ts), accepted as channel options and handed to
 *  the default peer (the package's Node entry: an AddonTransport). */
const DEPRECATED_NATIVE_OPTIONS: ReadonlyArray<keyof DeprecatedNativeOptions> = ['handler', 'plugin', 'config', 'isolate', 'isolateTimeoutMs', 'sourceCount', 'sourceSize'];

/** Splits the constructor's options into the channel's own and the deprecated native ones. */
export function splitDeprecatedNative(options: unknown): { channel: unknown; native: DeprecatedNativeOptions } {
  if (typeof options !== 'object' || options === null) return { channel: options, native: {} }; // validateOptions says why
  const channel: Record<string, unknown> = {};
  const native: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    ((DEPRECATED_NATIVE_OPTIONS as readonly string[]).includes(key) ? native : channel)[key] = value;
  }
  return { channel, native };
}

const KNOWN_OPTIONS: ReadonlyArray<keyof ChannelOptions> = [
  'wakeMode',
  'pollIntervalMs',
  'drainBudgetMs',
  'highWaterMark',
  'maxMessage',
  'keepAssembly',
  'keepAlive',
  'prefault',
  'transport',
];

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return v.length <= 40 ? `the string ${JSON.stringify(v)}` : `a string of length ${v.length}`;
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `${typeof v} ${String(v)}`;
}

export function checkCapacity(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_CAPACITY || v > MAX_CAPACITY || (v & (v - 1)) !== 0) {
    throw new RangeError(
      `${name} must be a power of two from ${MIN_CAPACITY} (4 KiB) to ${MAX_CAPACITY} (1 GiB) bytes, not ${typeof v === 'number' ? v : describe(v)}`,
    );
  }
  return v;
}

export function checkNumber(name: string, v: unknown, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${typeof v === 'number' ? v : describe(v)}`);
  }
  return v;
}

const TRANSPORT_METHODS = ['start', 'wake', 'close'] as const;

/** A transport must at least start, wake and close its peer (transport.ts). */
function checkTransport(t: unknown): PeerTransport {
  const shape = 'an object with start(options), wake(word) and close() methods (optionally parked, ref, unref, stats, loadPlugin, unloadPlugin; see PeerTransport)';
  if (typeof t !== 'object' || t === null) throw new TypeError(`options.transport must be ${shape}, not ${describe(t)}`);
  const missing = TRANSPORT_METHODS.filter((m) => typeof (t as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new TypeError(`options.transport must be ${shape}; this one has no ${missing.map((m) => `${m}()`).join(', ')}`);
  }
  return t as PeerTransport;
}

export interface ValidOptions {
  wakeMode: WakeMode;
  pollIntervalMs: number;
  drainBudgetMs: number;
  highWaterMark: number;
  maxMessage: number;
  keepAssembly: number;
  keepAlive: boolean;
  prefault: boolean;
  transport: PeerTransport | undefined;
}

/** Checks every option of the channel (a transport checks its own, e.g. AddonTransport's). */
export function validateOptions(options: unknown): ValidOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, not ${describe(options)}`);
  const o = options as ChannelOptions;
  for (const key of Object.keys(o)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      throw new TypeError(`unknown option '${key}'; the options are ${KNOWN_OPTIONS.join(', ')}`);
    }
  }
  const mode = o.wakeMode ?? 'doorbell';
  if (mode !== 'doorbell' && mode !== 'poll' && mode !== 'spin') {
    throw new RangeError(`wakeMode must be 'doorbell', 'poll' or 'spin', not ${describe(mode)}`);
  }
  if (o.keepAlive !== undefined && typeof o.keepAlive !== 'boolean') throw new TypeError(`options.keepAlive must be a boolean, not ${describe(o.keepAlive)}`);
  if (o.prefault !== undefined && typeof o.prefault !== 'boolean') throw new TypeError(`options.prefault must be a boolean, not ${describe(o.prefault)}`);
  return {
    wakeMode: mode,
    pollIntervalMs: checkNumber('pollIntervalMs', o.pollIntervalMs ?? 4, 1, 60000, false),
    drainBudgetMs: checkNumber('drainBudgetMs', o.drainBudgetMs ?? 4, 0.1, 1000, false),
    highWaterMark: checkNumber('highWaterMark', o.highWaterMark ?? 16 * 1024 * 1024, 0, 2 ** 53, true),
    maxMessage: checkNumber('maxMessage', o.maxMessage ?? 2 ** 32 - 1, 0, 2 ** 32 - 1, true),
    keepAssembly: checkNumber('keepAssembly', o.keepAssembly ?? DEFAULT_KEEP_ASSEMBLY, 0, 2 ** 32 - 1, true),
    keepAlive: o.keepAlive === true,
    prefault: o.prefault === true,
    transport: o.transport === undefined ? undefined : checkTransport(o.transport),
  };
}
