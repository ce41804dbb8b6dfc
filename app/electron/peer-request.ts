// The page's attach request, checked before anything is started: which ring sizes it
// initialized, and which peer it wants, by NAME only (a built-in handler, or one of the
// app's plugins). The page never names a file: the peer host maps names to its own
// plugins, so nothing the page sends can make the preload load an arbitrary library.
import { isValidCapacity, MAX_CAPACITY, MIN_CAPACITY } from 'shared-memory-channel/protocol';
import type { Rings } from './attach-handshake';

export const BUILTIN_HANDLERS = ['echo', 'sink'] as const;
export type BuiltinHandler = (typeof BUILTIN_HANDLERS)[number];

export type PeerChoice = { handler: BuiltinHandler } | { plugin: string; configJson: string };

export interface AttachRequest {
  rings: Rings;
  peer: PeerChoice;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parses the JSON text the page passed to attach(); throws a TypeError naming the bad value. */
export function parseAttachRequest(json: unknown, plugins: readonly string[]): AttachRequest {
  if (typeof json !== 'string') throw new TypeError(`smcNative.attach: the request must be a JSON text, not ${typeof json}`);
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new TypeError(`smcNative.attach: the request is not valid JSON (${(e as Error).message}): ${json.slice(0, 80)}`);
  }
  if (!isObject(v)) throw new TypeError(`smcNative.attach: the request must be a JSON object { rings, peer }, not ${json.slice(0, 80)}`);
  const rings = v.rings;
  if (!isObject(rings)) throw new TypeError('smcNative.attach: request.rings must be an object { r2n, n2r } (the ring sizes the page initialized)');
  for (const k of ['r2n', 'n2r'] as const) {
    const c = rings[k];
    if (typeof c !== 'number' || !isValidCapacity(c)) {
      throw new RangeError(`smcNative.attach: request.rings.${k} ${JSON.stringify(c)} is invalid: it must be a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]`);
    }
  }
  return { rings: { r2n: rings.r2n as number, n2r: rings.n2r as number }, peer: parsePeerChoice(v.peer, plugins, 'request.peer') };
}

/** { handler: 'echo' | 'sink' } or { plugin: <one of plugins>, config?: object }. */
export function parsePeerChoice(v: unknown, plugins: readonly string[], where: string): PeerChoice {
  if (!isObject(v)) throw new TypeError(`smcNative.attach: ${where} must be { handler: 'echo' | 'sink' } or { plugin: name, config }`);
  if ('handler' in v) {
    const h = v.handler;
    if (!(BUILTIN_HANDLERS as readonly unknown[]).includes(h)) {
      throw new TypeError(`smcNative.attach: unknown handler ${JSON.stringify(h)} in ${where}: the built-in handlers are ${BUILTIN_HANDLERS.join(', ')} (plugins go in { plugin: name })`);
    }
    return { handler: h as BuiltinHandler };
  }
  const name = checkPluginName(v.plugin, plugins, where);
  const config = v.config ?? {};
  if (!isObject(config)) throw new TypeError(`smcNative.attach: ${where}.config must be a JSON object, not ${JSON.stringify(config)}`);
  return { plugin: name, configJson: JSON.stringify(config) };
}

/** `name` if it is one of the app's plugins; otherwise an Error listing them. */
export function checkPluginName(name: unknown, plugins: readonly string[], where: string): string {
  if (typeof name !== 'string' || !plugins.includes(name)) {
    throw new Error(
      `smcNative: unknown plugin ${JSON.stringify(name)} in ${where}: this app's plugins are ${plugins.length ? plugins.join(', ') : '(none available)'}` +
        ' (plugins are chosen by name; paths are not accepted)',
    );
  }
  return name;
}

/** A plugin's config for loadPlugin: a JSON text of an object (default "{}"). */
export function checkConfigJson(configJson: unknown, where: string): string {
  if (configJson === undefined) return '{}';
  if (typeof configJson !== 'string') throw new TypeError(`smcNative: ${where} config must be a JSON text of an object, not ${typeof configJson}`);
  let v: unknown;
  try {
    v = JSON.parse(configJson);
  } catch (e) {
    throw new TypeError(`smcNative: ${where} config is not valid JSON (${(e as Error).message}): ${configJson.slice(0, 80)}`);
  }
  if (!isObject(v)) throw new TypeError(`smcNative: ${where} config must be a JSON object, not ${configJson.slice(0, 80)}`);
  return configJson;
}
