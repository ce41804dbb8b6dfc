// Send: text, raw bytes (hex) or BPG groups, repeated 1..1,000,000 times.
import { useState } from 'react';
import type { Hub, SendSpec } from './hub';
import { formatBytes } from './hex';

type NumberField = 'repeat' | 'targetId' | 'packets';
type TextField = 'text' | 'hex' | 'tag' | 'metadata' | 'payloadHex';

export function SendPanel({ hub }: { hub: Hub }) {
  const [spec, setSpec] = useState<SendSpec>({
    mode: 'text', text: 'hello, channel', hex: 'de ad be ef 00 01 02 03', tag: 'TX', targetId: 7,
    metadata: '{"op":"demo"}', payloadHex: '01 02 03 04', packets: 1, repeat: 1,
  });
  const [error, setError] = useState('');
  const set = <K extends keyof SendSpec>(k: K, v: SendSpec[K]): void => setSpec((s) => ({ ...s, [k]: v }));
  // One input per field: its test id is `send-<id>`.
  const numberInput = (id: string, k: NumberField, min: number, max: number, coerce: (v: number) => number) => (
    <input data-testid={`send-${id}`} type="number" min={min} max={max} value={spec[k]} onChange={(e) => set(k, coerce(Number(e.target.value)))} />
  );
  const textInput = (id: string, k: TextField, maxLength?: number) => (
    <input data-testid={`send-${id}`} maxLength={maxLength} value={spec[k]} onChange={(e) => set(k, e.target.value)} />
  );
  const textArea = (id: string, k: TextField) => (
    <textarea data-testid={`send-${id}`} rows={3} value={spec[k]} onChange={(e) => set(k, e.target.value)} />
  );

  let preview = '';
  try {
    preview = formatBytes(hub.build(spec).bytes.length) + ' per message';
  } catch (e) {
    preview = `invalid: ${(e as Error).message}`;
  }

  const onSend = (): void => {
    setError('');
    if (!Number.isInteger(spec.repeat) || spec.repeat < 1 || spec.repeat > 1_000_000) {
      setError('repeat count must be an integer from 1 to 1,000,000');
      return;
    }
    hub.send(spec).catch((e: Error) => setError(e.message));
  };

  const f = hub.flood;
  const elapsed = f ? ((f.active ? performance.now() : f.finishedAt) - f.startedAt) / 1000 : 0;
  return (
    <div className="panel">
      <div className="row">
        <label>
          Kind{' '}
          <select data-testid="send-mode" value={spec.mode} onChange={(e) => set('mode', e.target.value as SendSpec['mode'])}>
            <option value="text">text (UTF-8)</option>
            <option value="hex">bytes (hex)</option>
            <option value="bpg">BPG group</option>
          </select>
        </label>
        <label>
          Repeat {numberInput('repeat', 'repeat', 1, 1_000_000, Math.floor)}
        </label>
        <span className="muted">{preview}</span>
      </div>
      {spec.mode === 'text' && textArea('text', 'text')}
      {spec.mode === 'hex' && textArea('hex', 'hex')}
      {spec.mode === 'bpg' && (
        <div className="grid">
          <label>Tag {textInput('tag', 'tag', 2)}</label>
          <label>Target id {numberInput('target', 'targetId', 0, 0xffffffff, (v) => v >>> 0)}</label>
          <label>
            Packets per group {numberInput('packets', 'packets', 1, 64, (v) => Math.max(1, Math.min(64, Math.floor(v))))}
          </label>
          <label className="wide">Metadata (JSON) {textInput('metadata', 'metadata')}</label>
          <label className="wide">Binary payload (hex) {textInput('payload', 'payloadHex')}</label>
        </div>
      )}
      <div className="row">
        <button data-testid="send-button" disabled={hub.status !== 'connected'} onClick={onSend}>
          Send{spec.repeat > 1 ? ` ×${spec.repeat.toLocaleString()}` : ''}
        </button>
        <button data-testid="send-stop" disabled={!f?.active} onClick={() => hub.stopFlood()}>
          Stop
        </button>
        {error && (
          <span className="error" data-testid="send-error">
            {error}
          </span>
        )}
      </div>
      {f && (
        <div className="progress" data-testid="send-progress" data-active={f.active ? '1' : '0'} data-sent={f.sent}>
          <progress max={f.total} value={f.sent} /> {f.sent.toLocaleString()} / {f.total.toLocaleString()} {f.kind} messages
          {f.active ? ' sending…' : f.cancelled ? ' (stopped)' : ' done'} in {elapsed.toFixed(2)} s, {f.backpressureWaits} waits
          for queue space
        </div>
      )}
      <p className="muted">
        Floods are sent in slices of a few ms; whenever <code>send()</code> returns false or the JS queue grows, the loop
        waits for <code>onQueueEmpty</code>, so the page stays responsive. Handler &apos;echo&apos; returns every message.
      </p>
    </div>
  );
}
