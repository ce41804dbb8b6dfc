// window.__smc: what the end-to-end tests (and a curious developer) can reach.
import type { AppChannelConfig } from '../peer/create';
import type { Hub, SendSpec } from './hub';

export interface LongTaskLog {
  count: number;
  max: number;
  durations: number[];
  /** [startTime, duration] of each long task (first 1000). */
  entries: Array<[number, number]>;
  supported: boolean;
  reset(): void;
}

function observeLongTasks(): LongTaskLog {
  const log: LongTaskLog = {
    count: 0,
    max: 0,
    durations: [],
    entries: [],
    supported: false,
    reset() {
      this.count = 0;
      this.max = 0;
      this.durations = [];
      this.entries = [];
    },
  };
  try {
    const po = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        log.count++;
        log.max = Math.max(log.max, e.duration);
        if (log.durations.length < 1000) {
          log.durations.push(e.duration);
          log.entries.push([e.startTime, e.duration]);
        }
      }
    });
    po.observe({ type: 'longtask', buffered: true });
    log.supported = true;
  } catch {
    log.supported = false;
  }
  return log;
}

export function installTestApi(hub: Hub): void {
  const longtasks = observeLongTasks();
  const api = {
    hub,
    get channel() {
      return hub.channel;
    },
    get retired() {
      return hub.retired;
    },
    longtasks,
    stats() {
      return {
        status: hub.status,
        peerKind: hub.peerKind,
        channel: hub.channel?.getStats() ?? null,
        latest: hub.latest,
        samples: hub.samples,
        chartUpdates: hub.chartUpdates,
        channelsCreated: hub.channelsCreated,
        flood: hub.flood ? { ...hub.flood } : null,
        image: {
          frames: hub.image.frames, drawn: hub.image.drawn, dropped: hub.image.dropped, fps: hub.image.fps,
          width: hub.image.width, height: hub.image.height, badFrames: hub.image.badFrames,
        },
        logTotal: hub.log.total,
        pingsReceived: hub.pingsReceived,
      };
    },
    apply(cfg: Partial<AppChannelConfig>) {
      return hub.apply({ ...hub.config, ...cfg });
    },
    send(spec: Partial<SendSpec>) {
      return hub.send({
        mode: 'text', text: '', hex: '', tag: 'TX', targetId: 0, metadata: '', payloadHex: '', packets: 1, repeat: 1, ...spec,
      });
    },
  };
  (globalThis as unknown as { __smc: typeof api }).__smc = api;
}
