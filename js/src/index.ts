// Package entry point for Node and Electron: the channel with the native addon as its
// default peer. Browser code imports './browser' instead (no addon, no Node modules).
// One SharedMemoryChannel class for both entries: this one only gives it a default peer.
import { setDefaultPeer } from './channel';
import { AddonTransport } from './native';

setDefaultPeer((native) => new AddonTransport(native));

// Everything the browser entry exports, plus the addon.
export * from './browser';
export { AddonTransport, loadAddon, pluginFileName, pluginHostPath, pluginPath, type DeprecatedNativeOptions, type NativeHandler, type NativeHandlerOptions } from './native';
export { PluginFailureError } from './plugin-failure';
