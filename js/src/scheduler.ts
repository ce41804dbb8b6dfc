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

/**
 * A one-shot timer that never keeps the process alive (unref'd in Node) and costs no
 * allocation to re-arm (Node's Timeout.refresh()). arm() while armed does nothing.
 */
export class BackstopTimer {
  private handle: ReturnType<typeof setTimeout> | null = null;
  private armed = false;
  private readonly fire = (): void => {
    this.armed = false;
    this.fn();
  };

  constructor(
    private readonly fn: () => void,
    private readonly ms: number,
  ) {}

  arm(): void {
    if (this.armed) return;
    this.armed = true;
    const h = this.handle as unknown as { refresh?: () => unknown; unref?: () => unknown } | null;
    if (h !== null && typeof h.refresh === 'function') {
      h.refresh(); // re-activates a Node timer that already fired
      return;
    }
    this.handle = setTimeout(this.fire, this.ms);
    (this.handle as unknown as { unref?: () => unknown }).unref?.();
  }

  cancel(): void {
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.armed = false;
  }
}
