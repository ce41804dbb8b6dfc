// The browser's own alternative to the channel, measured by the Benchmark tab: a worker
// that counts the payloads posted to it since the last 'reset' and answers once it has
// the number that an 'expect' message names (which may arrive before or after them).
// Runs as a module worker; knows nothing of the channel.
type Command = { cmd: 'reset' } | { cmd: 'expect'; n: number };

let expect = Infinity;
let got = 0;
let bytes = 0;

function answerIfDone(): void {
  if (got === expect) (self as unknown as Worker).postMessage({ got, bytes });
}

self.onmessage = (ev: MessageEvent<Command | ArrayBuffer | Uint8Array>) => {
  const d = ev.data;
  if (d instanceof ArrayBuffer || d instanceof Uint8Array) {
    got++;
    bytes += d.byteLength;
    answerIfDone();
  } else if (d.cmd === 'reset') {
    expect = Infinity;
    got = 0;
    bytes = 0;
  } else {
    expect = d.n;
    answerIfDone();
  }
};
