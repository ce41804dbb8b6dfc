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

/** Applies a filter from `src` to `dst` (same size, RGBA; alpha is kept). */
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
      // Rec. 601 luma in integer arithmetic: (77 R + 150 G + 29 B) >> 8.
      const l = (77 * src[i]! + 150 * src[i + 1]! + 29 * src[i + 2]!) >> 8;
      dst[i] = l;
      dst[i + 1] = l;
      dst[i + 2] = l;
      dst[i + 3] = src[i + 3]!;
    }
  } else {
    // 3x3 box blur, edges clamped, integer mean (sum / 9 truncated).
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let dy = -1; dy <= 1; dy++) {
            const yy = Math.min(height - 1, Math.max(0, y + dy));
            for (let dx = -1; dx <= 1; dx++) {
              const xx = Math.min(width - 1, Math.max(0, x + dx));
              sum += src[(yy * width + xx) * 4 + c]!;
            }
          }
          dst[(y * width + x) * 4 + c] = (sum / 9) | 0;
        }
        dst[(y * width + x) * 4 + 3] = src[(y * width + x) * 4 + 3]!;
      }
    }
  }
}
