// The channel's counters and the snapshot getStats() returns: the JS side's own counts,
// the fill of both rings read from their shared index words, and the peer's counters as
// its transport reports them.
import type { Endpoint } from './protocol/endpoint';
import type { Region } from './protocol/layout';
import type { PeerStats } from './transport';

export interface ChannelStats {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Messages / bytes waiting in the JS send queue (ring full). */
  queueLength: number;
  queueBytes: number;
  /** Published, unreleased bytes per ring, and capacities. */
  r2nFill: number;
  n2rFill: number;
  r2nCapacity: number;
  n2rCapacity: number;
  /** Times JS woke the parked peer / the peer's doorbell reached JS. */
  doorbellsToPeer: number;
  doorbellsFromPeer: number;
  /** Times the park timeout ran while parked (doorbell mode), whatever it found. */
  parkTimeouts: number;
  /** Park timeouts that found work a doorbell should have announced (a lost wake-up). */
  parkTimeoutWakes: number;
  drainPasses: number;
  longestDrainMs: number;
  protocolErrors: number;
  /** Bytes this side holds to reassemble large messages: kept between messages up to the
   *  keepAssembly option, 0 before the first fragmented message. */
  assemblyBytes: number;
  /** Counters of the peer side, if the transport reports them ({} once closed). */
  peer: PeerStats;
}

/** The counters the channel's parts increment (plain fields: no call per message). */
export class Counters {
  messagesSent = 0;
  bytesSent = 0;
  messagesReceived = 0;
  bytesReceived = 0;
  doorbellsToPeer = 0;
  doorbellsFromPeer = 0;
  parkTimeouts = 0;
  parkTimeoutWakes = 0;
  drainPasses = 0;
  longestDrainMs = 0;
  protocolErrors = 0;

  countSent(bytes: number): void {
    this.messagesSent++;
    this.bytesSent += bytes;
  }
}

/** Published and unreleased bytes of a ring, clamped: both words are shared memory. */
export function ringFill(ctrl: Int32Array, writeWord: number, readWord: number, capacity: number): number {
  return Math.min((Atomics.load(ctrl, writeWord) - Atomics.load(ctrl, readWord)) >>> 0, capacity);
}

export function statsSnapshot(c: Counters, region: Region, endpoint: Endpoint, queue: { length: number; bytes: number }, peer: PeerStats): ChannelStats {
  const ctrl = region.ctrl;
  const out = endpoint.outWords;
  const inn = endpoint.inWords;
  return {
    messagesSent: c.messagesSent,
    bytesSent: c.bytesSent,
    messagesReceived: c.messagesReceived,
    bytesReceived: c.bytesReceived,
    queueLength: queue.length,
    queueBytes: queue.bytes,
    r2nFill: ringFill(ctrl, out.writeIndex, out.readIndex, region.r2nCapacity),
    n2rFill: ringFill(ctrl, inn.writeIndex, inn.readIndex, region.n2rCapacity),
    r2nCapacity: region.r2nCapacity,
    n2rCapacity: region.n2rCapacity,
    doorbellsToPeer: c.doorbellsToPeer,
    doorbellsFromPeer: c.doorbellsFromPeer,
    parkTimeouts: c.parkTimeouts,
    parkTimeoutWakes: c.parkTimeoutWakes,
    drainPasses: c.drainPasses,
    longestDrainMs: c.longestDrainMs,
    assemblyBytes: endpoint.frameReader.bufferCapacity,
    protocolErrors: c.protocolErrors,
    peer,
  };
}
