// The Electron peer host: the native addon runs the peer on a thread of this process,
// with a built-in handler or one of the app's plugins (looked up by name in the catalog,
// never by a path from the page). The addon's ThreadSafeFunction calls `doorbell` on this
// world's event loop.
import type { AddonTransport, NativeHandlerOptions } from 'shared-memory-channel';
import type { PeerHandle, PeerHost } from './bridge';
import type { PeerChoice } from './peer-request';
import type { PluginCatalog } from './plugin-catalog';

export type AddonTransportClass = new (options: NativeHandlerOptions) => AddonTransport;

export function addonPeerHost(Transport: AddonTransportClass, catalog: PluginCatalog): PeerHost {
  return {
    plugins: catalog.names,
    start(buffer: SharedArrayBuffer, peer: PeerChoice, doorbell: () => void): PeerHandle {
      const options: NativeHandlerOptions =
        'handler' in peer ? { handler: peer.handler } : { handler: 'plugin', pluginPath: catalog.path(peer.plugin), pluginConfig: peer.configJson };
      const transport = new Transport(options);
      transport.start({ buffer, doorbell });
      // The preload's event loop must run the doorbell while the channel is open.
      transport.ref();
      return {
        wake: (word) => transport.wake(word),
        close: () => transport.close(),
        stats: () => transport.stats(),
        loadPlugin: (name, configJson) => transport.loadPlugin(catalog.path(name), configJson),
        unloadPlugin: () => transport.unloadPlugin(),
      };
    },
  };
}
