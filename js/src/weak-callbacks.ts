// The callbacks that reach a channel from outside its object graph: the peer's doorbell
// (through the transport), the park-timeout backstop and the 'poll' timer. They must not
// keep the channel alive (a channel nobody uses may be finalized, which stops its native
// thread), so they hold its core through a WeakRef. Made here, at module level: a closure
// created inside the channel's constructor could share that constructor's context, which
// holds `this`, and pin the channel.
import type { ChannelCore } from './channel-core';
import type { PeerTransport } from './transport';

/** The core the callbacks reach, set once it exists (the endpoint's callbacks come first). */
export class WeakCore {
  private ref: WeakRef<ChannelCore> | null = null;

  set(core: ChannelCore): void {
    this.ref = new WeakRef(core);
  }

  get(): ChannelCore | undefined {
    return this.ref?.deref();
  }
}

/** The transport's doorbell: the peer rang. */
export function onDoorbell(target: WeakCore): () => void {
  return () => target.get()?.drainLoop.onDoorbell();
}

/** The backstop: the park timeout ran out. */
export function onParkTimeout(target: WeakCore): () => void {
  return () => target.get()?.drainLoop.onParkTimeout();
}

/** The endpoint's wake: counts and asks the transport to wake the parked peer. */
export function wakePeer(target: WeakCore, transport: PeerTransport): (word: number) => void {
  return (word) => {
    const core = target.get();
    if (core !== undefined) core.counters.doorbellsToPeer++;
    transport.wake(word);
  };
}

/** The endpoint's onFailure: the channel fails with it. */
export function failChannel(target: WeakCore): (err: Error) => void {
  return (err) => target.get()?.fail(err);
}

/** Wake mode 'poll': a pass every `ms`; the interval clears itself once the core is gone. */
export function startPollTimer(target: WeakCore, ms: number): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    const core = target.get();
    if (core === undefined) clearInterval(timer);
    else core.drainLoop.drain();
  }, ms);
  (timer as unknown as { unref?: () => void }).unref?.();
  return timer;
}
