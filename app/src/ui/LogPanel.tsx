// Log: the last 500 messages (ring), hex of the first and last bytes; rendered only when shown.
import type { Hub } from './hub';
import { entryText } from './log-ring';
import { toHex } from './hex';

export function LogPanel({ hub, active }: { hub: Hub; active: boolean }) {
  const entries = active ? hub.log.newest(500) : [];
  return (
    <div className="panel">
      <div className="row">
        <span data-testid="log-total">{hub.log.total.toLocaleString()} entries logged (showing the last {Math.min(500, hub.log.total)})
          {hub.log.skipped > 0 ? `; ${hub.log.skipped.toLocaleString()} messages not logged (floods are sampled: 1 in 256 past ${hub.log.windowBudget} per ¼ s)` : ''}
        </span>
        <button data-testid="log-clear" onClick={() => { hub.log.clear(); hub.notify(); }}>
          Clear
        </button>
      </div>
      <ol className="log" data-testid="log-list">
        {entries.map((e) => {
          const text = entryText(e);
          const head = toHex(e.head, 0, Math.min(16, e.headLen));
          const tail = e.tailLen > 0 ? toHex(e.tail, 0, e.tailLen) : '';
          return (
            <li key={e.seq} data-testid="log-entry" data-dir={e.dir} className={`log-${e.dir}`}>
              <span className="seq">#{e.seq}</span>
              <span className="t">{(e.time / 1000).toFixed(3)}s</span>
              <span className="dir">{e.dir}</span>
              {e.dir === 'info' ? (
                <span className="note">{e.note}</span>
              ) : (
                <>
                  <span className="kind">{e.kind}{e.note ? ` ${e.note}` : ''}</span>
                  <span className="len">{e.len} B</span>
                  <code className="hex">
                    {head}
                    {e.len > 16 ? (tail ? ` … ${tail}` : '') : ''}
                  </code>
                  {text && <span className="text" data-testid="log-text">“{text}”</span>}
                </>
              )}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
