// "Run this soon, after the event loop had a turn": how a drain that used up its budget
// yields. Node: setImmediate (runs after I/O callbacks). Browsers and workers: a
// MessageChannel message (a macrotask without setTimeout's 4 ms clamp).

export type Task = () => void;

interface MinimalPort {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(msg: unknown): void;
}

function makeScheduler(): (task: Task) => void {
  const g = globalThis as unknown as {
    setImmediate?: (fn: Task) => unknown;
    MessageChannel?: new () => { port1: MinimalPort; port2: MinimalPort };
  };
  if (typeof g.setImmediate === 'function') {
    const si = g.setImmediate;
    return (task) => void si(task);
  }
  if (typeof g.MessageChannel === 'function') {
    const queue: Task[] = [];
    const ch = new g.MessageChannel();
    ch.port1.onmessage = () => {
      const t = queue.shift();
      if (t) t();
    };
    return (task) => {
      queue.push(task);
      ch.port2.postMessage(0);
    };
  }
  return (task) => void setTimeout(task, 0);
}

export const scheduleTask: (task: Task) => void = makeScheduler();

/** Milliseconds with sub-millisecond resolution where available. */
export const now: () => number =
  typeof performance !== 'undefined' && typeof performance.now === 'function'
    ? () => performance.now()
    : () => Date.now();
