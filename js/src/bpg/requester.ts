// BPG request / response over a channel: a request is one group, its reply the group with
// the same (group id, target id); timeouts, late replies and close.
import { ChannelError, TimeoutError } from '../errors';
import { checkU32 } from './checks';
import { encodedSize, encodeInto } from './encoder';
import { BpgDecoder, type BpgDecoderOptions, type BpgExpiredGroup, type BpgGroup } from './stream-decoder';
import { BpgError, MAX_U32, type BpgPacketInit } from './wire';


/** The only thing the requester needs from the channel. */
export interface BpgTransport {
  send(bytes: Uint8Array): void;
}

/** A request packet: the requester assigns groupId and the end-of-group bits. */
export type BpgRequestPacket = Omit<BpgPacketInit, 'groupId' | 'endOfGroup'>;

export interface BpgRequesterOptions {
  decoder?: BpgDecoderOptions;
  /** Clock for the decoder's group expiry (default Date.now). */
  now?: () => number;
  /** First group id to allocate (default 1); ids then increase and wrap at 2^32. */
  firstGroupId?: number;
  /** A complete group that answers no pending request (e.g. it arrived after a timeout). */
  onUnmatched?: (group: BpgGroup) => void;
  /** Malformed incoming bytes. */
  onError?: (error: BpgError) => void;
  /** Incomplete incoming groups dropped by the decoder's idle timeout. */
  onExpired?: (group: BpgExpiredGroup) => void;
}

interface PendingRequest {
  resolve: (group: BpgGroup) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Sends a group of packets and resolves with the response group carrying the same group id and
 * target id. Incoming bytes are fed through receive(); sending goes through `transport`.
 */
export class BpgRequester {
  private readonly decoder: BpgDecoder;
  private readonly now: () => number;
  private readonly inflight = new Map<string, PendingRequest>();
  private nextGroupId: number;

  constructor(
    private readonly transport: BpgTransport,
    private readonly options: BpgRequesterOptions = {},
  ) {
    this.decoder = new BpgDecoder(options.decoder);
    this.now = options.now ?? Date.now;
    this.nextGroupId = options.firstGroupId ?? 1;
    checkU32('firstGroupId', this.nextGroupId);
  }

  get pendingRequests(): number {
    return this.inflight.size;
  }

  request(packets: readonly BpgRequestPacket[], options: { timeoutMs: number }): Promise<BpgGroup> {
    const first = packets[0];
    if (!first) return Promise.reject(new RangeError('a request needs at least one packet'));
    const { timeoutMs } = options;
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(new RangeError(`timeoutMs ${timeoutMs} is not a finite number >= 0`));
    }
    const targetId = first.targetId;
    if (packets.some((p) => p.targetId !== targetId)) {
      return Promise.reject(new RangeError('all packets of a request must share one targetId'));
    }
    const groupId = this.allocateGroupId(targetId);
    if (groupId === undefined) {
      return Promise.reject(new RangeError(`every group id is in use for target ${targetId}`));
    }
    let bytes: Uint8Array;
    try {
      const full = packets.map((p, i) => ({ ...p, groupId, endOfGroup: i === packets.length - 1 }));
      bytes = new Uint8Array(full.reduce((n, p) => n + encodedSize(p), 0));
      let at = 0;
      for (const p of full) at += encodeInto(bytes.subarray(at), p);
    } catch (e) {
      return Promise.reject(e);
    }
    const key = `${groupId}:${targetId}`;
    return new Promise<BpgGroup>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inflight.delete(key);
        reject(
          new TimeoutError(
            `BPG request (group ${groupId}, target ${targetId}) got no complete response within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      // Registered before sending: a loopback transport may answer synchronously.
      this.inflight.set(key, { resolve, reject, timer });
      try {
        this.transport.send(bytes);
      } catch (e) {
        clearTimeout(timer);
        this.inflight.delete(key);
        reject(e);
      }
    });
  }

  /** Feeds bytes received from the peer (any chunking). */
  receive(bytes: Uint8Array): void {
    const now = this.now();
    const out = this.decoder.push(bytes, now);
    for (const e of out.errors) this.options.onError?.(e);
    for (const g of out.groups) {
      const key = `${g.groupId}:${g.targetId}`;
      const req = this.inflight.get(key);
      if (!req) {
        this.options.onUnmatched?.(g);
        continue;
      }
      this.inflight.delete(key);
      clearTimeout(req.timer);
      req.resolve(g);
    }
    for (const g of this.decoder.expire(now)) this.options.onExpired?.(g);
  }

  /** Rejects every pending request with `reason` (e.g. when the channel closes). */
  close(reason: Error = new ChannelError('closed', 'BPG requester closed')): void {
    for (const req of this.inflight.values()) {
      clearTimeout(req.timer);
      req.reject(reason);
    }
    this.inflight.clear();
  }

  private allocateGroupId(targetId: number): number | undefined {
    // Bounded by the number of requests in flight, which is far below 2^32 in practice.
    for (let tries = 0; tries <= this.inflight.size; tries++) {
      const id = this.nextGroupId;
      this.nextGroupId = id === MAX_U32 ? 0 : id + 1;
      if (!this.inflight.has(`${id}:${targetId}`)) return id;
    }
    return undefined;
  }
}
