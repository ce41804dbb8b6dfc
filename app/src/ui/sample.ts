// One 4 Hz reading of the channel's rates and fills, as the charts show it.

export interface Sample {
  t: number; // seconds (wall clock)
  txMsgs: number; // msgs/s JS -> peer
  rxMsgs: number;
  txMB: number; // MB/s (10^6)
  rxMB: number;
  p50: number; // ms
  p99: number;
  r2nFillPct: number;
  n2rFillPct: number;
  queueLength: number;
  doorbellsToPeer: number; // per second
  doorbellsFromPeer: number;
  drainPasses: number; // per second
  longestDrainMs: number;
  fps: number;
  dropped: number;
}

/** What the charts show while no channel is connected. */
export const IDLE_SAMPLE: Sample = {
  t: 0, txMsgs: 0, rxMsgs: 0, txMB: 0, rxMB: 0, p50: NaN, p99: NaN, r2nFillPct: 0, n2rFillPct: 0, queueLength: 0,
  doorbellsToPeer: 0, doorbellsFromPeer: 0, drainPasses: 0, longestDrainMs: 0, fps: 0, dropped: 0,
};
