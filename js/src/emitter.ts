// A minimal typed event emitter. The library runs in Node, in Electron renderers and in
// plain browsers, so it cannot use Node's 'events' module.

type Listener<A extends unknown[]> = (...args: A) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Array<Listener<never[]>>>();

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    if (typeof fn !== 'function') throw new TypeError(`listener for '${String(event)}' must be a function, not ${typeof fn}`);
    const list = this.listeners.get(event) ?? [];
    list.push(fn as unknown as Listener<never[]>);
    this.listeners.set(event, list);
    this.listenersChanged(event);
    return this;
  }

  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const wrapper = (...args: Events[K]): void => {
      this.off(event, wrapper);
      fn(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const list = this.listeners.get(event);
    if (list) {
      const i = list.indexOf(fn as unknown as Listener<never[]>);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listeners.delete(event);
      this.listenersChanged(event);
    }
    return this;
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener; returns whether there was one. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of list.slice()) (fn as unknown as Listener<Events[K]>)(...args);
    return true;
  }

  /** Hook for subclasses: a listener for `event` was added or removed. */
  protected listenersChanged(_event: keyof Events): void {}
}
