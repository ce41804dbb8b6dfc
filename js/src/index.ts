// Package entry point for Node and Electron: the channel with the native addon as its
// default peer. Browser code imports './browser' instead (no addon, no Node modules).
import { setDefaultTransportFactory, type ChannelOptions } from './channel';
import { AddonTransport, pluginHostPath } from './native';

setDefaultTransportFactory(
  (o: ChannelOptions) =>
    new AddonTransport({
      handler: o.plugin !== undefined ? 'plugin' : (o.handler ?? 'echo'),
      ...(o.plugin !== undefined ? { pluginPath: o.plugin, pluginConfig: JSON.stringify(o.config ?? {}) /* checked by the channel's option validation */ } : {}),
      ...(o.isolate === true ? { isolate: true, pluginHostPath: pluginHostPath(), ...(o.isolateTimeoutMs !== undefined ? { isolateTimeoutMs: o.isolateTimeoutMs } : {}) } : {}),
      ...(o.sourceCount !== undefined ? { sourceCount: o.sourceCount } : {}),
      ...(o.sourceSize !== undefined ? { sourceSize: o.sourceSize } : {}),
      ...(o.maxMessage !== undefined ? { maxMessage: o.maxMessage } : {}),
      spin: o.wakeMode === 'spin',
    }),
);

// Everything the browser entry exports, plus the addon.
export * from './browser';
export { AddonTransport, loadAddon, pluginFileName, pluginHostPath, pluginPath, type NativeHandlerOptions } from './native';
export { PluginFailureError } from './plugin-failure';
