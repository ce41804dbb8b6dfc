// The BPG stream decoder (docs/bpg.md, "Streaming decoder semantics"): chunks in, groups
// and errors out; resync on a bad magic, B1-B7 on every packet (checks.ts), groups by
// (group id, target id), expiry by the caller's clock.
import { BpgError, BPG_DEFAULT_GROUP_TIMEOUT_MS, BPG_DEFAULT_MAX_PACKET_SIZE, BPG_HEADER_SIZE, BPG_MAGIC, BPG_PREFIX_SIZE, BPG_VERSION, hex32, packetOf, parsePrefix, versionOf, type BpgErrorCode, type BpgPacket } from './wire';
import { decodeUtf8, messages, tagProblem } from './checks';
import { ByteQueue } from './byte-queue';

export interface BpgDecoderOptions {
  /** Total bytes including the header (default 64 MiB). */
  maxPacketSize?: number;
  /** Idle time after which expire() drops an incomplete group (default 30 s). */
  groupTimeoutMs?: number;
}

/** Packets sharing one (groupId, targetId), in arrival order; the last has endOfGroup. */
export interface BpgGroup {
  groupId: number;
  targetId: number;
  packets: BpgPacket[];
}

export interface BpgExpiredGroup {
  groupId: number;
  targetId: number;
  packetCount: number;
  lastActivityMs: number;
}

export interface BpgDecodeOutput {
  /** Completed groups, in completion order. */
  groups: BpgGroup[];
  /** Problems found in this push, in stream order; each has `offset` set. */
  errors: BpgError[];
}

export interface BpgDecoderStats {
  bytesIn: number;
  packetsDecoded: number;
  groupsCompleted: number;
  groupsExpired: number;
  bytesDropped: number; // skipped while looking for a magic
  packetsSkippedVersion: number; // version > 1
  packetsRejectedOversize: number;
  packetsMalformed: number;
}

interface PendingGroup {
  groupId: number;
  targetId: number;
  packets: BpgPacket[];
  lastActivityMs: number;
}

/**
 * Streaming decoder with the same semantics as smc::bpg::Decoder. Each push() returns what it
 * completed; chunks are only borrowed during push() (bytes still needed are copied), so they
 * may be transient views into a ring. Work is O(bytes pushed).
 */
export class BpgDecoder {
  private readonly maxPacketSize: number;
  private readonly groupTimeoutMs: number;
  private readonly queue = new ByteQueue();
  private readonly header = new Uint8Array(BPG_HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly pending = new Map<string, PendingGroup>(); // insertion order = arrival order
  private offset = 0; // stream offset of the queue's first byte
  private skip = 0; // bytes of a rejected packet still to discard
  private resyncing = false;
  private resyncStart = 0;
  private resyncDropped = 0;
  private readonly counters: BpgDecoderStats = {
    bytesIn: 0,
    packetsDecoded: 0,
    groupsCompleted: 0,
    groupsExpired: 0,
    bytesDropped: 0,
    packetsSkippedVersion: 0,
    packetsRejectedOversize: 0,
    packetsMalformed: 0,
  };

  constructor(options: BpgDecoderOptions = {}) {
    this.maxPacketSize = options.maxPacketSize ?? BPG_DEFAULT_MAX_PACKET_SIZE;
    this.groupTimeoutMs = options.groupTimeoutMs ?? BPG_DEFAULT_GROUP_TIMEOUT_MS;
  }

  get stats(): Readonly<BpgDecoderStats> {
    return { ...this.counters };
  }
  get bufferedBytes(): number {
    return this.queue.size;
  }
  get pendingGroups(): number {
    return this.pending.size;
  }

  /** `nowMs` stamps the groups receiving packets, for expire(). */
  push(chunk: Uint8Array, nowMs: number = Date.now()): BpgDecodeOutput {
    const out: BpgDecodeOutput = { groups: [], errors: [] };
    const q = this.queue;
    this.counters.bytesIn += chunk.byteLength;
    q.borrow(chunk);
    for (;;) {
      if (this.skip > 0) {
        // Consumed straight from the borrowed chunk, so a rejected packet is never buffered.
        const n = Math.min(this.skip, q.size);
        this.consume(n);
        this.skip -= n;
        if (this.skip > 0) break;
      }
      if (this.resyncing && !this.resync(out)) break;
      if (q.size < 4) break;

      const have = Math.min(q.size, BPG_HEADER_SIZE);
      q.copyOut(0, this.header.subarray(0, have));
      const hv = this.headerView;
      // B1 magic
      if (hv.getUint32(0) !== BPG_MAGIC) {
        this.resyncing = true;
        this.resyncStart = this.offset;
        this.resyncDropped = 0;
        continue;
      }
      if (have < BPG_PREFIX_SIZE) break;
      const pre = parsePrefix(hv, 0);
      // B2 data length
      if (pre.dataLength < 4) {
        this.failHeader(out, 'data_length_too_small', messages.dataLength(pre.dataLength));
        continue;
      }
      const total = BPG_PREFIX_SIZE + pre.dataLength;
      const version = versionOf(pre.prop);
      // B3 version
      if (version > BPG_VERSION) {
        this.counters.packetsSkippedVersion++;
        this.skip = total;
        continue;
      }
      // B4 packet size
      if (total > this.maxPacketSize) {
        this.counters.packetsRejectedOversize++;
        out.errors.push(
          new BpgError('packet_too_large', messages.oversize(total, this.maxPacketSize), {
            offset: this.offset,
          }),
        );
        this.skip = total;
        continue;
      }
      if (have < BPG_HEADER_SIZE) break;
      const stringLength = hv.getUint32(BPG_PREFIX_SIZE);
      // B5 string length
      if (stringLength > pre.dataLength - 4) {
        this.failHeader(out, 'string_length_too_large', messages.stringLength(stringLength, pre.dataLength));
        continue;
      }
      // B6 tag
      const tagError = tagProblem(pre.tag0, pre.tag1);
      if (tagError !== undefined) {
        // The framing is intact, so only this packet is lost.
        this.counters.packetsMalformed++;
        out.errors.push(new BpgError('invalid_tag', tagError, { offset: this.offset }));
        this.skip = total;
        continue;
      }
      if (q.size < total) break;

      // B7 metadata UTF-8 (reported after the packet's bytes are consumed)
      const metadata = decodeUtf8(q.bytes(BPG_HEADER_SIZE, stringLength));
      const binary = new Uint8Array(total - BPG_HEADER_SIZE - stringLength);
      q.copyOut(BPG_HEADER_SIZE + stringLength, binary);
      const packetOffset = this.offset;
      this.consume(total);
      if (metadata === undefined) {
        this.counters.packetsMalformed++;
        out.errors.push(
          new BpgError('invalid_metadata_utf8', messages.utf8(stringLength), { offset: packetOffset }),
        );
        continue;
      }
      this.deliver(packetOf(pre, metadata, binary), nowMs, out);
    }
    q.retain();
    return out;
  }

  /** Drops and returns incomplete groups idle for at least groupTimeoutMs, oldest first. */
  expire(nowMs: number = Date.now()): BpgExpiredGroup[] {
    const expired: BpgExpiredGroup[] = [];
    for (const [key, g] of this.pending) {
      if (nowMs - g.lastActivityMs >= this.groupTimeoutMs) {
        expired.push({
          groupId: g.groupId,
          targetId: g.targetId,
          packetCount: g.packets.length,
          lastActivityMs: g.lastActivityMs,
        });
        this.pending.delete(key);
      }
    }
    this.counters.groupsExpired += expired.length;
    return expired;
  }

  private consume(n: number): void {
    this.queue.consume(n);
    this.offset += n;
  }

  private failHeader(out: BpgDecodeOutput, code: BpgErrorCode, message: string): void {
    this.counters.packetsMalformed++;
    out.errors.push(new BpgError(code, message, { offset: this.offset }));
    // No length in a malformed header can be trusted, so the next packet is found by its magic.
    this.resyncing = true;
    this.resyncStart = this.offset;
    this.resyncDropped = 1;
    this.counters.bytesDropped++;
    this.consume(1);
  }

  private resync(out: BpgDecodeOutput): boolean {
    const q = this.queue;
    while (q.size >= 4) {
      q.copyOut(0, this.header.subarray(0, 4));
      if (this.headerView.getUint32(0) === BPG_MAGIC) {
        out.errors.push(
          new BpgError(
            'bad_magic',
            `dropped ${this.resyncDropped} bytes before the next magic ${hex32(BPG_MAGIC)}`,
            { offset: this.resyncStart },
          ),
        );
        this.resyncing = false;
        return true;
      }
      // Jump to the next candidate first byte within the contiguous run.
      const f = q.front();
      const hit = f.indexOf(BPG_MAGIC >>> 24, 1);
      const n = hit < 0 ? f.byteLength : hit;
      this.consume(n);
      this.counters.bytesDropped += n;
      this.resyncDropped += n;
    }
    return false;
  }

  private deliver(packet: BpgPacket, nowMs: number, out: BpgDecodeOutput): void {
    this.counters.packetsDecoded++;
    const key = `${packet.groupId}:${packet.targetId}`;
    let g = this.pending.get(key);
    if (!g) {
      if (packet.endOfGroup) {
        this.counters.groupsCompleted++;
        out.groups.push({ groupId: packet.groupId, targetId: packet.targetId, packets: [packet] });
        return;
      }
      g = { groupId: packet.groupId, targetId: packet.targetId, packets: [], lastActivityMs: nowMs };
      this.pending.set(key, g);
    }
    g.lastActivityMs = nowMs;
    g.packets.push(packet);
    if (packet.endOfGroup) {
      this.counters.groupsCompleted++;
      this.pending.delete(key);
      out.groups.push({ groupId: g.groupId, targetId: g.targetId, packets: g.packets });
    }
  }
}
