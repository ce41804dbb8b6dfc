// Plugin pass-through: replacing or removing the native plugin a channel's peer runs.
// The channel only checks arguments and turns the addon's errors into ChannelErrors; the
// transport does the work (native/addon, plugin_host).
import { ChannelError } from './errors';
import { describe } from './options';
import type { PeerTransport } from './transport';

/** loadPlugin(path, config): see SharedMemoryChannel.loadPlugin. `beforeSwap` publishes
 *  what was sent so far, so it reaches the old plugin (or is dropped). */
export function loadPlugin(transport: PeerTransport, path: unknown, config: unknown, beforeSwap: () => void): void {
  if (typeof path !== 'string' || path === '') throw new TypeError(`loadPlugin(path, config): path must be a non-empty string, not ${describe(path)}`);
  const json = JSON.stringify(config ?? {});
  if (typeof json !== 'string') throw new TypeError(`loadPlugin(path, config): config must be JSON-serializable, not ${describe(config)}`);
  if (!transport.loadPlugin) throw new ChannelError('unsupported', "loadPlugin(): this channel's peer does not run native plugins");
  beforeSwap();
  try {
    transport.loadPlugin(path, json);
  } catch (e) {
    if (e instanceof ChannelError || e instanceof TypeError || e instanceof RangeError) throw e;
    // The addon's message names the path and the cause; the code makes it a ChannelError.
    throw new ChannelError('plugin_load_failed', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

export function unloadPlugin(transport: PeerTransport): boolean {
  if (!transport.unloadPlugin) throw new ChannelError('unsupported', "unloadPlugin(): this channel's peer does not run native plugins");
  return transport.unloadPlugin();
}
