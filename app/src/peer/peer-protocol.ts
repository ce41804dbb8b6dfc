// What the page tells its peer (Web Worker or Electron preload) when attaching.
import type { PeerRequest } from './native-bridge-api';

export type PeerHandler = 'echo' | 'sink' | 'image-source' | 'image-filter';

export interface PeerConfig {
  handler: PeerHandler;
  /** image-source: frame size and rate. */
  image?: { width: number; height: number; fps: number };
}

/** The dashboard's handler as the preload's peer request: echo and sink are the addon's
 *  built-in handlers; the image handlers are the app's native plugins of the same names,
 *  with image-source configured by the frame size and rate. */
export function peerRequestFor(cfg: PeerConfig): PeerRequest {
  switch (cfg.handler) {
    case 'echo':
    case 'sink':
      return { handler: cfg.handler };
    case 'image-source':
      return { plugin: 'image-source', config: { ...(cfg.image ?? { width: 640, height: 480, fps: 30 }) } };
    case 'image-filter':
      return { plugin: 'image-filter', config: {} };
  }
}

/** The TypeScript peer's handler for a peer request (the inverse of peerRequestFor). */
export function peerConfigFor(req: PeerRequest): PeerConfig {
  if ('handler' in req) return { handler: req.handler };
  if (req.plugin === 'echo') return { handler: 'echo' };
  if (req.plugin === 'image-filter') return { handler: 'image-filter' };
  if (req.plugin === 'image-source') {
    const c = req.config ?? {};
    const num = (k: string, d: number): number => (typeof c[k] === 'number' ? (c[k] as number) : d);
    return { handler: 'image-source', image: { width: num('width', 640), height: num('height', 480), fps: num('fps', 30) } };
  }
  throw new Error(`the TypeScript peer has no plugin ${JSON.stringify(req.plugin)}: it implements echo, image-source and image-filter`);
}
