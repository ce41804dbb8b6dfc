// Byte formatting and parsing for the Send and Log panels.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += (i > start ? ' ' : '') + HEX[bytes[i]!];
  return s;
}

/** Parses "de ad be ef", "0xDEADBEEF", "de:ad" ...; throws with the offending text. */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s,:_-]/g, '');
  if (clean.length % 2 !== 0) throw new Error(`hex needs an even number of digits, got ${clean.length}`);
  const bad = /[^0-9a-f]/i.exec(clean);
  if (bad) throw new Error(`'${bad[0]}' is not a hex digit`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

/** Whether the first `limit` bytes look like text (no decoding, no allocation). */
export function looksText(bytes: Uint8Array, limit = 64): boolean {
  const n = Math.min(limit, bytes.length);
  if (n === 0) return false;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 9 && b !== 10 && b !== 13) bad++;
    else if (b === 0x7f) bad++;
  }
  return bad * 10 < n;
}

const lenient = new TextDecoder('utf-8', { fatal: false });

/** Printable preview of (non-shared) bytes, or '' if they do not look like text. */
export function textPreview(bytes: Uint8Array): string {
  let printable = 0;
  for (const b of bytes) if ((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13 || b >= 0x80) printable++;
  if (bytes.length === 0 || printable < bytes.length * 0.9) return '';
  return lenient.decode(bytes).replace(/[\r\n\t]/g, ' ');
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${+(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(2)} KiB`;
  return `${n} B`;
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(digits);
}
