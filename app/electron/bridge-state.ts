// Validation of the page -> preload buffer hand-off (unit-tested without Electron).
export interface AttachRequest {
  smcAttach?: unknown;
  buffer?: unknown;
}

/** The attach request in a window message, or null if the message is not a valid one
 *  from this page's own origin. */
export function pendingAttach(
  data: AttachRequest | null | undefined,
  origin: string,
  ownOrigin: string,
): { token: string; buffer: SharedArrayBuffer } | null {
  if (origin !== ownOrigin || data === null || typeof data !== 'object') return null;
  if (typeof data.smcAttach !== 'string' || !/^smc-[a-z0-9]+-\d+$/.test(data.smcAttach)) return null;
  if (!(data.buffer instanceof SharedArrayBuffer)) return null;
  return { token: data.smcAttach, buffer: data.buffer };
}
