// What the send methods accept and how it becomes bytes: one conversion shared by every
// send path, so each refuses bad input with the same message.
import { describe } from './options';

export type SendData = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string;

const encoder = new TextEncoder();

/** Bytes of a send argument, without copying where possible. */
export function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return encoder.encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`message must be a Uint8Array, another ArrayBufferView, an ArrayBuffer or a string, not ${describe(data)}`);
}

/** The protocol's limit on one message (its total length is a u32). */
export function checkMessageSize(bytes: Uint8Array): void {
  if (bytes.length > 2 ** 32 - 1) throw new RangeError(`message of ${bytes.length} bytes exceeds the limit of 2^32 - 1 bytes`);
}
