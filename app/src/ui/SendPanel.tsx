// Send: text, raw bytes (hex) or BPG groups, repeated 1..1,000,000 times.
import { useState } from 'react';
import type { Hub, SendSpec } from './hub';
import { formatBytes } from './hex';

export function SendPanel({ hub }: { hub: Hub }) {
  const [spec, setSpec] = useState<SendSpec>({
    mode: 'text', text: 'hello, channel', hex: 'de ad be ef 00 01 02 03', tag: 'TX', targetId: 7,
    metadata: '{"op":"demo"}', payloadHex: '01 02 03 04', packets: 1, repeat: 1,
  });
  const [error, setError] = useState('');
  const set = <K extends keyof SendSpec>(k: K, v: SendSpec[K]): void => setSpec((s) => ({ ...s, [k]: v }));

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
          Repeat{' '}
          <input
            data-testid="send-repeat"
            type="number"
            min={1}
            max={1000000}
            value={spec.repeat}
            onChange={(e) => set('repeat', Math.floor(Number(e.target.value)))}
          />
        </label>
        <span className="muted">{preview}</span>
      </div>
      {spec.mode === 'text' && (
        <textarea data-testid="send-text" rows={3} value={spec.text} onChange={(e) => set('text', e.target.value)} />
      )}
      {spec.mode === 'hex' && (
        <textarea data-testid="send-hex" rows={3} value={spec.hex} onChange={(e) => set('hex', e.target.value)} />
      )}
      {spec.mode === 'bpg' && (
        <div className="grid">
          <label>
            Tag <input data-testid="send-tag" maxLength={2} value={spec.tag} onChange={(e) => set('tag', e.target.value)} />
          </label>
          <label>
            Target id{' '}
            <input
              data-testid="send-target"
              type="number"
              min={0}
              max={4294967295}
              value={spec.targetId}
              onChange={(e) => set('targetId', Number(e.target.value) >>> 0)}
            />
          </label>
          <label>
            Packets per group{' '}
            <input
              data-testid="send-packets"
              type="number"
              min={1}
              max={64}
              value={spec.packets}
              onChange={(e) => set('packets', Math.max(1, Math.min(64, Math.floor(Number(e.target.value)))))}
            />
          </label>
          <label className="wide">
            Metadata (JSON){' '}
            <input data-testid="send-metadata" value={spec.metadata} onChange={(e) => set('metadata', e.target.value)} />
          </label>
          <label className="wide">
            Binary payload (hex){' '}
            <input data-testid="send-payload" value={spec.payloadHex} onChange={(e) => set('payloadHex', e.target.value)} />
          </label>
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
