// Preload (isolated world, unsandboxed: the addon is a native module): everything but the
// two Electron-only pieces lives in bridge.ts, which the isolated-world e2e runs unchanged
// in a Chromium extension content script. docs/electron.md explains the routes.
import { contextBridge } from 'electron';
import { AddonTransport, pluginPath } from 'shared-memory-channel';
import { addonPeerHost } from './addon-peer';
import { installBridge } from './bridge';
import { APP_PLUGINS, pluginCatalog } from './plugin-catalog';

// In a packaged app the plugins are unpacked beside the asar archive (package.mjs): the
// library finds them through Electron's asar-aware fs, but dlopen needs the real file.
const unpacked = (name: string): string => pluginPath(name).replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');

installBridge({
  expose: (name, api) => contextBridge.exposeInMainWorld(name, api),
  window,
  host: addonPeerHost(AddonTransport, pluginCatalog(APP_PLUGINS, unpacked)),
});
