// Synthetic frames and filters shared by the worker peer and tests. The same definitions
// are implemented by the native image plugins (native/plugins), so a frame processed by
// either peer has the same pixels.

/** Writes frame `n` of the moving test pattern (RGBA, 4 bytes per pixel) into `dst`: the
 *  native image-source plugin's pattern, R = x + 3n, G = y + 2n, B = x + y + n (mod 256). */
export function renderFrame(dst: Uint8Array, width: number, height: number, n: number): void {
  const n8 = n & 255;
  let i = 0;
  for (let y = 0; y < height; y++) {
    const gy = (y + 2 * n8) & 255;
    for (let x = 0; x < width; x++) {
      dst[i] = (x + 3 * n8) & 255;
      dst[i + 1] = gy;
      dst[i + 2] = (x + y + n8) & 255;
      dst[i + 3] = 255;
      i += 4;
    }
  }
}

export type FilterName = 'grayscale' | 'invert' | 'blur';

/** Applies a filter from `src` to `dst` (same size, RGBA), with the native image-filter
 *  plugin's definitions: grayscale Y = (77 R + 150 G + 29 B + 128) >> 8, alpha kept;
 *  invert 255 - v, alpha kept; blur the 3x3 mean over every channel (alpha too) of the
 *  window clipped to the image, rounded to nearest. */
export function applyFilter(filter: FilterName, src: Uint8Array, dst: Uint8Array, width: number, height: number): void {
  const n = width * height * 4;
  if (filter === 'invert') {
    for (let i = 0; i < n; i += 4) {
      dst[i] = 255 - src[i]!;
      dst[i + 1] = 255 - src[i + 1]!;
      dst[i + 2] = 255 - src[i + 2]!;
      dst[i + 3] = src[i + 3]!;
    }
  } else if (filter === 'grayscale') {
    for (let i = 0; i < n; i += 4) {
      const l = (77 * src[i]! + 150 * src[i + 1]! + 29 * src[i + 2]! + 128) >> 8;
      dst[i] = l;
      dst[i + 1] = l;
      dst[i + 2] = l;
      dst[i + 3] = src[i + 3]!;
    }
  } else {
    for (let y = 0; y < height; y++) {
      const y0 = Math.max(0, y - 1);
      const y1 = Math.min(height - 1, y + 1);
      for (let x = 0; x < width; x++) {
        const x0 = Math.max(0, x - 1);
        const x1 = Math.min(width - 1, x + 1);
        const count = (y1 - y0 + 1) * (x1 - x0 + 1);
        for (let c = 0; c < 4; c++) {
          let sum = 0;
          for (let yy = y0; yy <= y1; yy++) for (let xx = x0; xx <= x1; xx++) sum += src[(yy * width + xx) * 4 + c]!;
          dst[(y * width + x) * 4 + c] = Math.floor((sum + (count >> 1)) / count);
        }
      }
    }
  }
}
