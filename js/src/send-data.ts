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

/**
 * The bytes of each element of a sendMany() batch, checked before any is sent: an array,
 * every element a SendData of at most `maxPayload` bytes (one record). The array itself
 * when every element is already a Uint8Array (no copy of the list).
 */
export function toBatch(messages: unknown, maxPayload: number): readonly Uint8Array[] {
  if (!Array.isArray(messages)) throw new TypeError(`sendMany(messages): messages must be an array, not ${describe(messages)}`);
  let converted: Uint8Array[] | null = null;
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    let bytes: Uint8Array;
    if (m instanceof Uint8Array) {
      bytes = m;
    } else {
      try {
        bytes = toBytes(m);
      } catch (e) {
        throw new TypeError(`sendMany(messages): messages[${i}]: ${(e as Error).message}`);
      }
      converted ??= (messages as Uint8Array[]).slice(0, i);
    }
    if (bytes.length > maxPayload) {
      throw new RangeError(
        `sendMany(messages): messages[${i}] has ${bytes.length} bytes; a batch takes messages of up to ${maxPayload} bytes (one record: r2nSize / 4 - 8); send larger ones with send() or sendDirect()`,
      );
    }
    if (converted !== null) converted.push(bytes);
  }
  return converted ?? (messages as Uint8Array[]);
}
