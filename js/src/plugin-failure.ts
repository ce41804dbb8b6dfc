// Why an isolated plugin (ChannelOptions.isolate, docs/plugins.md) failed its channel.
import { ChannelError } from './errors';

/**
 * The channel's 'error' when an isolated plugin crashed, hung or corrupted its ring. The
 * app process is unaffected; a new channel (or loadPlugin on a live one) starts a fresh
 * plugin process.
 *
 * `code` / `reason`:
 *  - `plugin_crashed`: the plugin process died; `signal` ('SIGSEGV', 'SIGABRT', ...) and
 *    `signalNumber`, or `exitCode` when it exited.
 *  - `plugin_unresponsive`: a plugin callback, or a message waiting for the plugin, made no
 *    progress within `isolateTimeoutMs`; the process was killed.
 *  - `plugin_protocol_error`: the plugin broke its ring; `reason` is the ring's own reason
 *    (docs/protocol.md 7.2, e.g. `index_misaligned`, `record_kind_invalid`).
 */
export class PluginFailureError extends ChannelError {
  readonly reason: string;
  readonly signal: string | null;
  readonly signalNumber: number | null;
  readonly exitCode: number | null;
  /** The plugin process's id. */
  readonly pid: number | null;
  constructor(
    reason: string,
    message: string,
    details: { signal?: string | null; signalNumber?: number | null; exitCode?: number | null; pid?: number | null } = {},
  ) {
    super(reason === 'plugin_crashed' || reason === 'plugin_unresponsive' ? reason : 'plugin_protocol_error', message);
    this.reason = reason;
    this.signal = details.signal ?? null;
    this.signalNumber = details.signalNumber ?? null;
    this.exitCode = details.exitCode ?? null;
    this.pid = details.pid ?? null;
  }
}
