// The isolated world's half of the contextBridge stand-in: answers the main-world shim's
// calls to an exposed API. A method's value returns at once; a promise's outcome follows
// in a SETTLE event (contextBridge proxies promises the same way).
import { CALL, EXPOSE, HELLO, RETURN, SETTLE, type CallDetail, type ExposeDetail, type Outcome, type SettleDetail } from './shim-protocol';

const asError = (e: unknown): { name: string; message: string } =>
  e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };

export function exposeViaEvents(target: Window, name: string, api: object): void {
  const methods = Object.keys(api).filter((k) => typeof (api as Record<string, unknown>)[k] === 'function');
  let promises = 0;
  const announce = (): void => void target.dispatchEvent(new CustomEvent<ExposeDetail>(EXPOSE, { detail: { name, methods } }));
  target.addEventListener(CALL, (ev) => {
    const d = (ev as CustomEvent<CallDetail>).detail;
    if (d === null || typeof d !== 'object' || d.name !== name) return;
    let outcome: Outcome;
    try {
      if (!methods.includes(d.method)) throw new TypeError(`${name}.${String(d.method)} is not a function`);
      const value: unknown = (api as Record<string, (...a: unknown[]) => unknown>)[d.method]!(...(Array.isArray(d.args) ? d.args : []));
      if (value instanceof Promise) {
        const id = ++promises;
        const settle = (o: SettleDetail['outcome']): void => void target.dispatchEvent(new CustomEvent<SettleDetail>(SETTLE, { detail: { promise: id, outcome: o } }));
        value.then(
          (v: unknown) => settle({ ok: true, value: v }),
          (e: unknown) => settle({ ok: false, error: asError(e) }),
        );
        outcome = { ok: true, promise: id };
      } else {
        outcome = { ok: true, value };
      }
    } catch (e) {
      outcome = { ok: false, error: asError(e) };
    }
    target.dispatchEvent(new CustomEvent<Outcome>(RETURN, { detail: outcome }));
  });
  // Whichever world's script runs first, the shim learns the methods: it says hello when
  // it loads, and we announce when we expose.
  target.addEventListener(HELLO, announce);
  announce();
}
