// What the page tells its peer (Web Worker or Electron preload) when attaching.
export type PeerHandler = 'echo' | 'sink' | 'image-source' | 'image-filter';

export interface PeerConfig {
  handler: PeerHandler;
  /** image-source: frame size and rate. */
  image?: { width: number; height: number; fps: number };
}
