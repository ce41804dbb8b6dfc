// The drain loop of a channel and how it parks. A pass writes queued messages and
// delivers incoming ones within the drain budget; if work remains it yields to the event
// loop (scheduleTask) and comes back; when everything is done it parks (wake mode
// 'doorbell'): it tells the peer, through the shared parked words, to ring when there is
// more, with the park timeout as the backstop against a lost doorbell. 'poll' runs a
// pass on a timer, 'spin' keeps passing while it receives.
import type { ChannelCore } from './channel-core';
import { ChannelError } from './errors';
import { EOF } from './protocol/endpoint-receiver';
import { STATE_CLOSED, STATE_FAILED } from './protocol/layout';
import { now, scheduleTask, type BackstopTimer } from './scheduler';

/**
 * How long a parked JS side sleeps before it re-checks the ring and the peer's state on
 * its own, ms: the bound on what a lost doorbell (a parked word cleared by a hostile or
 * buggy peer) or a peer that stopped without ringing can cost. The native side's default
 * park timeout is the same.
 */
export const PARK_TIMEOUT_MS = 100;

/** Messages one poll of the ring delivers at most before the budget is checked. */
const POLL_BATCH = 512;

export class DrainLoop {
  private draining = false;
  private drainScheduled = false;
  /** Inside endpoint.poll (a receive callback is on the stack). */
  private polling = false;
  /** When 'poll' / 'spin' (which never park) last put back their own index words. */
  private lastRestore = 0;
  private pollTimer: ReturnType<typeof setInterval> | null = null;

  private readonly drainTask = (): void => {
    this.drainScheduled = false;
    this.drain();
  };

  constructor(
    private readonly core: ChannelCore,
    private readonly backstop: BackstopTimer,
  ) {}

  /** The timer of wake mode 'poll' (the channel makes it: it must hold the channel weakly). */
  setPollTimer(timer: ReturnType<typeof setInterval>): void {
    this.pollTimer = timer;
  }

  /** The channel ended: no more timers. */
  stop(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.backstop.cancel();
  }

  /** Receiving stopped: with no queue either, nothing waits for the backstop. */
  receivingStopped(): void {
    if (!this.core.receiving && this.core.sender.queue.length === 0) this.backstop.cancel();
    // The consumer-parked word stays set: the peer still rings on a change of its state
    // (and on data, which the drain then leaves in the ring), so its end is seen at once.
  }

  /** The peer's doorbell reached this thread. */
  onDoorbell(): void {
    if (this.core.closed) return;
    this.core.counters.doorbellsFromPeer++;
    this.drain();
  }

  /**
   * The park timeout (PARK_TIMEOUT_MS) ran out while parked: re-check the ring and the
   * peer as a doorbell would have. A doorbell can be lost only if the peer (or whatever
   * wrote the shared memory) cleared our parked word or rewound an index; this bounds the
   * cost to one timeout.
   */
  onParkTimeout(): void {
    const core = this.core;
    if (core.closed || this.draining) return;
    const c = core.counters;
    c.parkTimeouts++;
    const before = c.messagesReceived + c.messagesSent;
    // Our own index words too: one moved back to a value the peer never saw leaves both
    // sides waiting on each other (docs/protocol.md 7.4).
    let restored = false;
    core.guarded(() => {
      restored = core.endpoint.restoreOwnIndices();
    });
    core.transport.rearmDoorbell?.();
    this.drain(); // delivers what a stopped peer left in the ring before its end is reported
    if (!this.drainScheduled) this.peerStopped(); // only once that drain left nothing behind
    if (restored || c.messagesReceived + c.messagesSent !== before || core.closed) c.parkTimeoutWakes++;
  }

  scheduleDrain(): void {
    if (this.drainScheduled || this.core.closed) return;
    this.drainScheduled = true;
    scheduleTask(this.drainTask);
  }

  /** poll(max): delivers what is there now; refuses a call from inside a receive callback. */
  pollNow(max: number): number {
    if (this.polling) {
      throw new ChannelError('poll_reentered', "poll() was called from inside this channel's receive callback (or 'message' listener); messages are already being delivered: return from the callback instead");
    }
    return this.pollRing(max);
  }

  /** Delivers up to `max` messages; handles the peer's end and failures (returns 0). */
  private pollRing(max: number): number {
    const core = this.core;
    let n: number;
    this.polling = true;
    try {
      // In place (no view per message) unless a 'message' listener wants views.
      n = core.inPlaceReceiver !== null && !core.emitsMessages ? core.endpoint.pollInPlace(core.deliverInPlace, max) : core.endpoint.poll(core.deliver, max);
    } catch (e) {
      core.fail(e); // a peer_failed from the endpoint is described by peerFailed
      return 0;
    } finally {
      this.polling = false;
    }
    if (n === EOF) {
      core.peerClosed(); // everything it sent was delivered
      return 0;
    }
    return n;
  }

  /**
   * One drain pass: writes queued messages, delivers incoming ones, within the drain
   * budget. If work remains it yields (scheduleTask) instead of parking; if everything is
   * done it parks (doorbell mode), so the peer rings when there is more, with the park
   * timeout as the backstop.
   */
  drain(): void {
    const core = this.core;
    if (core.closed || this.draining) return;
    const queue = core.sender.queue;
    const { wakeMode, drainBudgetMs } = core.settings;
    this.draining = true;
    core.counters.drainPasses++;
    const t0 = now();
    let more = false;
    try {
      for (;;) {
        if (queue.length > 0) {
          try {
            core.sender.pump(drainBudgetMs);
          } catch (e) {
            core.failFromSend(e); // the peer's end: the poll below delivers what it left
          }
        }
        if (core.closed) return;
        let n = 0;
        if (core.receiving) n = this.pollRing(POLL_BATCH);
        else this.checkPeer();
        if (core.closed) return;
        if (n === 0) {
          // Nothing delivered: park (doorbell) or stop until the next tick (poll / spin).
          if (wakeMode !== 'doorbell') {
            more = wakeMode === 'spin' && (core.receiving || queue.length > 0);
            // These modes never park: what the park timeout does, once per its period.
            const t = now();
            if (t - this.lastRestore >= PARK_TIMEOUT_MS) {
              this.lastRestore = t;
              if (core.endpoint.restoreOwnIndices()) core.counters.parkTimeoutWakes++;
              if (this.peerStopped()) return;
            }
            break;
          }
          // Parking re-checks the ring: true means work arrived meanwhile, go round again.
          // Not receiving, we still park as consumer for the peer's state (its end rings).
          const waiting = queue.length > 0 || core.receiving;
          const woke = (queue.length > 0 && this.parkProducer()) || (core.receiving ? this.parkConsumer() : core.endpoint.parkForPeerState());
          if (!woke) {
            // The backstop only for work someone waits for: an idle channel that neither
            // receives nor sends costs no timer (its peer's end still rings it).
            if (waiting) this.backstop.arm();
            break;
          }
        }
        if (now() - t0 >= drainBudgetMs) {
          more = true;
          break;
        }
      }
    } catch (e) {
      core.fail(e);
    } finally {
      this.draining = false;
      const elapsed = now() - t0;
      if (elapsed > core.counters.longestDrainMs) core.counters.longestDrainMs = elapsed;
    }
    if (more) this.scheduleDrain();
  }

  /**
   * Once per park timeout, with nothing left to deliver: a peer whose thread has ended
   * although its state word no longer says so (a hostile write put "attached" back over
   * the "closed" or "failed" it published) would otherwise leave this side waiting
   * forever. True if that ended the channel.
   */
  private peerStopped(): boolean {
    const core = this.core;
    if (core.closed) return false;
    const reason = core.transport.peerStopped?.() ?? null;
    if (reason === null) return false;
    if (reason === 0) core.peerClosed();
    else core.peerFailed(reason);
    return true;
  }

  /** Ring full with a queue: ask the peer for a doorbell when it frees space. */
  waitForSpace(): void {
    const core = this.core;
    if (core.settings.wakeMode !== 'doorbell') {
      this.scheduleDrain(); // 'poll' / 'spin' retry on their own schedule
      return;
    }
    core.sender.publishNow();
    if (core.closed) return;
    if (this.parkProducer()) this.scheduleDrain(); // space appeared meanwhile
    else this.backstop.arm();
  }

  /** Announces that we wait for space (the peer rings when it frees some) and lets the
   *  transport arm its wait. True when space appeared meanwhile: do not wait. */
  private parkProducer(): boolean {
    const ep = this.core.endpoint;
    if (ep.parkProducer()) return true;
    this.core.transport.parked?.(ep.producerWaitWord, ep.producerWaitValue);
    return false;
  }

  /** The same for data: true when data (or the peer's end) arrived meanwhile. */
  private parkConsumer(): boolean {
    const ep = this.core.endpoint;
    if (ep.parkConsumer()) return true;
    this.core.transport.parked?.(ep.consumerWaitWord, ep.consumerWaitValue);
    return false;
  }

  /** Without a receiver nothing polls: learn of the peer's end from its state word. */
  private checkPeer(): void {
    const ps = this.core.endpoint.peerState(); // an invalid word fails the endpoint (S1): thrown
    if (ps.state === STATE_FAILED) this.core.peerFailed(ps.reason);
    else if (ps.state === STATE_CLOSED) this.core.peerClosed();
  }

  /** checkPeer, and (doorbell mode) ask the peer to ring when its state changes later. */
  checkPeerAndPark(): void {
    if (this.core.settings.wakeMode === 'doorbell') this.core.endpoint.parkForPeerState();
    this.checkPeer();
  }
}
