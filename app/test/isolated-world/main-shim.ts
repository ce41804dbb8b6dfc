// The main world's half of the contextBridge stand-in (a MAIN-world content script): once
// the isolated world announces an API, defines window[name] with the same methods, each a
// synchronous call through a CustomEvent (expose-events.ts). Promises come back settled
// by a later event, as contextBridge proxies them.
import { CALL, EXPOSE, HELLO, RETURN, SETTLE, type CallDetail, type ExposeDetail, type Outcome, type SettleDetail } from './shim-protocol';

const ERRORS: Record<string, ErrorConstructor> = { TypeError, RangeError, Error };
const revive = (e: { name: string; message: string }): Error => new (ERRORS[e.name] ?? Error)(e.message);
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

window.addEventListener(SETTLE, (ev) => {
  const d = (ev as CustomEvent<SettleDetail>).detail;
  const p = pending.get(d.promise);
  if (!p) return;
  pending.delete(d.promise);
  if (d.outcome.ok) p.resolve(d.outcome.value);
  else p.reject(revive(d.outcome.error));
});

function call(name: string, method: string, args: unknown[]): unknown {
  let outcome: Outcome | null = null;
  const onReturn = (ev: Event): void => {
    outcome = (ev as CustomEvent<Outcome>).detail;
  };
  window.addEventListener(RETURN, onReturn);
  try {
    window.dispatchEvent(new CustomEvent<CallDetail>(CALL, { detail: { name, method, args } }));
  } finally {
    window.removeEventListener(RETURN, onReturn);
  }
  const o = outcome as Outcome | null;
  if (o === null) throw new Error(`${name}.${method}: the isolated world did not answer`);
  if (!o.ok) throw revive(o.error);
  if ('promise' in o) {
    const id = o.promise;
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }
  return o.value;
}

window.addEventListener(EXPOSE, (ev) => {
  const { name, methods } = (ev as CustomEvent<ExposeDetail>).detail;
  if (name in window) return;
  const api: Record<string, (...args: unknown[]) => unknown> = {};
  for (const m of methods) api[m] = (...args: unknown[]) => call(name, m, args);
  Object.defineProperty(window, name, { value: Object.freeze(api), enumerable: false });
});
window.dispatchEvent(new CustomEvent(HELLO));
