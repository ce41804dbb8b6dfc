// The events by which the main-world shim (main-shim.ts) and the isolated world
// (expose-events.ts) stand in for contextBridge.exposeInMainWorld. A CustomEvent
// dispatched on window runs the other world's listener synchronously, inside
// dispatchEvent, so a call returns its value as a contextBridge call does; its detail
// reaches the other world as a structured clone, as contextBridge copies arguments.
export const CALL = 'smc-bridge-call';
export const RETURN = 'smc-bridge-return';
export const SETTLE = 'smc-bridge-settle';
export const EXPOSE = 'smc-bridge-expose';
export const HELLO = 'smc-bridge-hello';

export interface CallDetail {
  name: string;
  method: string;
  args: unknown[];
}

/** A thrown error crosses as its class name and message. */
export type Outcome = { ok: true; value: unknown } | { ok: true; promise: number } | { ok: false; error: { name: string; message: string } };

export interface SettleDetail {
  promise: number;
  outcome: { ok: true; value: unknown } | { ok: false; error: { name: string; message: string } };
}

export interface ExposeDetail {
  name: string;
  methods: string[];
}
