// What keeps a channel alive: the Node event loop (through the transport's ref/unref) and
// garbage collection (strong references held here). One policy, Node's for its handles
// (a MessagePort with a 'message' listener, a socket): a channel doing work someone waits
// for keeps the process alive and stays reachable; an idle or closed one does neither.
import type { PeerTransport } from './transport';

/**
 * 'auto' (default): alive while receiving or while sends are pending. 'ref' (keepAlive,
 * ref()): alive for as long as the channel is open. 'unref' (unref()): never keeps the
 * process alive (pending work still pins the channel against GC, see below).
 */
export type RefMode = 'auto' | 'ref' | 'unref';

/**
 * Channels whose JS send queue is not empty, held strongly until it drains or they close.
 * The peer's doorbell refers to a channel only weakly (a channel nobody uses may be
 * finalized), and what waits on a queued message (a sendAsync promise, an onQueueEmpty
 * callback, a 'drain' listener) is reachable only from the channel itself:
 * `await ch.sendAsync(big)` leaves the channel, the queue and the awaiting code reachable
 * from nothing but that weak doorbell. A GC while we are parked waiting for space would
 * collect them all and the queued messages would never be written nor the waiters
 * settled. Data accepted by send() is a promise to deliver it: the queue pins its channel.
 */
const channelsWithQueue = new Set<object>();
/** Open channels whose transport is not finalizable (PeerTransport.finalizable): held
 *  until cleanup(). Nothing but close() stops such a peer (a worker), and a receiving
 *  channel is otherwise reachable only from its weak doorbell. */
const channelsPinnedOpen = new Set<object>();
/** Receiving channels that are not unref'd: like a listening Node handle they are doing
 *  work the process stays alive for; collecting one would leave the process running
 *  with nothing delivering its messages. */
const channelsListening = new Set<object>();

function pin(set: Set<object>, owner: object, on: boolean): void {
  if (on) set.add(owner);
  else set.delete(owner);
}

export interface ActivityState {
  closed: boolean;
  receiving: boolean;
  queued: boolean;
}

export class Reachability {
  private transportRefed = false;

  constructor(
    private readonly owner: object,
    private readonly transport: PeerTransport,
    public mode: RefMode,
  ) {
    if (transport.finalizable !== true) channelsPinnedOpen.add(owner);
  }

  /** Whether the transport currently keeps the event loop alive. */
  get refed(): boolean {
    return this.transportRefed;
  }

  /** Applies the policy to the channel's current state; cheap when nothing changed. */
  update(s: ActivityState): void {
    const want = !s.closed && (this.mode === 'ref' || (this.mode === 'auto' && (s.receiving || s.queued)));
    if (want !== this.transportRefed) {
      this.transportRefed = want;
      // A closed transport has let go of its handle: nothing to unref.
      if (want) this.transport.ref?.();
      else if (!s.closed) this.transport.unref?.();
    }
    pin(channelsListening, this.owner, !s.closed && s.receiving && this.mode !== 'unref');
    pin(channelsWithQueue, this.owner, !s.closed && s.queued);
    if (s.closed) channelsPinnedOpen.delete(this.owner);
  }
}
