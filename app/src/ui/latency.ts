// Round-trip statistics of the live ping: percentiles over a sliding window.

export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]!;
}

export class RttWindow {
  private t: number[] = [];
  private v: number[] = [];
  /** A round trip of `ms` that ended at `at` (performance.now()). */
  add(ms: number, at: number): void {
    this.t.push(at);
    this.v.push(ms);
  }
  /** p50/p99 over the last `windowMs`. */
  take(windowMs = 2000): { p50: number; p99: number } {
    const cut = performance.now() - windowMs;
    let i = 0;
    while (i < this.t.length && this.t[i]! < cut) i++;
    this.t.splice(0, i);
    this.v.splice(0, i);
    return { p50: percentile(this.v, 0.5), p99: percentile(this.v, 0.99) };
  }
}
