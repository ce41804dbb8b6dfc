// The preload's bridge (app/electron/bridge.ts) in Node, with everything Electron would
// give it replaced by what this process has: a fake window (postMessage structured-clones,
// as a browser does, so a SharedArrayBuffer stays shared) and a fake contextBridge that
// records what is exposed. The peer host is the REAL one: the native addon
// (build/release/smc.node) with the app's real plugins, found by name; the page side is
// the dashboard's real ElectronTransport under the library's SharedMemoryChannel.
// Compiled first by the electron stage (tsc -p app/electron/tsconfig.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = path.join(here, '..', 'electron', 'dist', 'app');
const { installBridge } = require(path.join(out, 'electron', 'bridge.js'));
const { addonPeerHost } = require(path.join(out, 'electron', 'addon-peer.js'));
const { APP_PLUGINS, pluginCatalog } = require(path.join(out, 'electron', 'plugin-catalog.js'));
const { ElectronTransport } = require(path.join(out, 'src', 'peer', 'electron-transport.js'));
const { SharedMemoryChannel, AddonTransport, pluginPath, bpg, protocol } = require('shared-memory-channel');

const ORIGIN = 'app://dashboard';

/** The isolated world's view of the page's window: 'message' listeners and the page's
 *  postMessage, which delivers a structured clone on a later task, as a browser does. */
class FakeWindow {
  location = { origin: ORIGIN };
  listeners = [];
  /** When set, posted messages wait here until release(). */
  held = null;
  addEventListener(type, fn) {
    if (type === 'message') this.listeners.push(fn);
  }
  postMessage(data, targetOrigin) {
    assert.equal(targetOrigin, ORIGIN, 'the page posts its buffer to its own origin only');
    const ev = { data: structuredClone(data), origin: ORIGIN };
    if (this.held) this.held.push(ev);
    else setImmediate(() => this.dispatch(ev));
  }
  dispatch(ev) {
    for (const l of this.listeners) l(ev);
  }
  release() {
    const evs = this.held ?? [];
    this.held = null;
    for (const ev of evs) this.dispatch(ev);
  }
}

function setup({ attachTimeoutMs, host } = {}) {
  const win = new FakeWindow();
  const exposed = {};
  const warnings = [];
  const contextBridge = { exposeInMainWorld: (name, api) => (exposed[name] = api) };
  const catalog = pluginCatalog(APP_PLUGINS, pluginPath);
  const bridge = installBridge({
    expose: (name, api) => contextBridge.exposeInMainWorld(name, api),
    window: win,
    host: host ?? addonPeerHost(AddonTransport, catalog),
    ...(attachTimeoutMs ? { attachTimeoutMs } : {}),
    warn: (m) => warnings.push(m),
  });
  globalThis.window = win; // what ElectronTransport posts to
  return { win, api: exposed.smcNative, bridge, warnings, catalog };
}

/** A host that records starts and never touches native code: for handshake tests. */
function recordingHost() {
  const started = [];
  return {
    started,
    plugins: ['echo', 'image-filter', 'image-source'],
    start(buffer, peer) {
      started.push({ buffer, peer });
      return { wake() {}, close() {}, stats: () => ({}), loadPlugin() {}, unloadPlugin: () => false };
    },
  };
}

function region(r2n = 4096, n2r = 4096) {
  const size = protocol.regionSize(r2n, n2r);
  const sab = new SharedArrayBuffer(size);
  protocol.initRegion(sab, r2n, n2r);
  return sab;
}

const request = (r2n = 4096, n2r = 4096, peer = { handler: 'echo' }) => JSON.stringify({ rings: { r2n, n2r }, peer });

function nextMessage(ch, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    ch.startReceiving((m) => {
      clearTimeout(t);
      ch.stopReceiving();
      resolve(new Uint8Array(m));
    });
  });
}

async function openChannel(api, peer, r2n = 1 << 16, n2r = 1 << 22) {
  const transport = new ElectronTransport(api, peer);
  const ch = new SharedMemoryChannel(r2n, n2r, { transport });
  await transport.whenAttached();
  return { ch, transport };
}

function decodeFrame(m) {
  const { packet } = bpg.decodeOne(m);
  return { packet, meta: JSON.parse(packet.metadata) };
}

// ---- exposure ---------------------------------------------------------------------------

test('the preload exposes one frozen object, smcNative, of six functions and nothing else', () => {
  const { api } = setup({ host: recordingHost() });
  assert.ok(Object.isFrozen(api));
  assert.deepEqual(Object.keys(api).sort(), ['attach', 'close', 'loadPlugin', 'stats', 'unloadPlugin', 'wake']);
  for (const k of Object.keys(api)) assert.equal(typeof api[k], 'function');
});

// ---- the handshake ------------------------------------------------------------------------

test('attach completes when the buffer arrives, not before, whichever comes first', async () => {
  const host = recordingHost();
  const { win, api, bridge } = setup({ host });
  const sab = region();
  win.held = [];
  win.postMessage({ smcAttach: 'smc-a1-1', buffer: sab }, ORIGIN);
  let settled = false;
  const p = api.attach('smc-a1-1', request()).then(() => (settled = true));
  // Many event-loop turns pass; with the buffer held back the attach must still wait.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  assert.deepEqual(bridge.handshake.pending, { waiting: 1, arrived: 0 });
  win.release();
  await p;
  assert.equal(host.started.length, 1);
  // Shared, not copied: a write through the peer's buffer is seen in the page's.
  new Int32Array(host.started[0].buffer)[600] = 12345;
  assert.equal(new Int32Array(sab)[600], 12345);

  // The other order: the buffer first, the call later.
  const sab2 = region();
  win.postMessage({ smcAttach: 'smc-b2-2', buffer: sab2 }, ORIGIN);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(bridge.handshake.pending, { waiting: 0, arrived: 1 });
  await api.attach('smc-b2-2', request());
  assert.equal(host.started.length, 2);
  assert.deepEqual(bridge.handshake.pending, { waiting: 0, arrived: 0 });
});

test('a token is single-use: a second attach with it is refused', async () => {
  const host = recordingHost();
  const { win, api } = setup({ host });
  win.postMessage({ smcAttach: 'smc-c3-3', buffer: region() }, ORIGIN);
  await api.attach('smc-c3-3', request());
  win.postMessage({ smcAttach: 'smc-c3-3', buffer: region() }, ORIGIN);
  await assert.rejects(api.attach('smc-c3-3', request()), /token smc-c3-3 was already used; tokens are single-use/);
  // Two attaches racing for one token: the second is refused at once.
  win.postMessage({ smcAttach: 'smc-d4-4', buffer: region() }, ORIGIN);
  const first = api.attach('smc-d4-4', request());
  await assert.rejects(api.attach('smc-d4-4', request()), /already used/);
  await first;
  assert.equal(host.started.length, 2);
});

test('a channel closed while its buffer is on its way never starts a peer', async () => {
  const host = recordingHost();
  const { win, api, bridge } = setup({ host });
  win.held = [];
  win.postMessage({ smcAttach: 'smc-z1-1', buffer: region() }, ORIGIN);
  const p = api.attach('smc-z1-1', request());
  api.close('smc-z1-1');
  win.release();
  await assert.rejects(p, /token smc-z1-1 was closed before its buffer arrived/);
  assert.equal(host.started.length, 0);
  assert.equal(bridge.openChannels(), 0);
  assert.throws(() => api.stats('smc-z1-1'), /no open channel has token "smc-z1-1"/);
});

test('a buffer from another origin is refused, naming both origins', async () => {
  const host = recordingHost();
  const { win, api } = setup({ host });
  const p = api.attach('smc-e5-5', request());
  win.dispatch({ data: { smcAttach: 'smc-e5-5', buffer: region() }, origin: 'https://evil.example' });
  await assert.rejects(p, /came from origin 'https:\/\/evil\.example'; only this page's origin 'app:\/\/dashboard' may attach/);
  assert.equal(host.started.length, 0);
});

test('a buffer that is not a SharedArrayBuffer is refused', async () => {
  const host = recordingHost();
  const { win, api } = setup({ host });
  const p = api.attach('smc-f6-6', request());
  win.postMessage({ smcAttach: 'smc-f6-6', buffer: new ArrayBuffer(protocol.regionSize(4096, 4096)) }, ORIGIN);
  await assert.rejects(p, /is ArrayBuffer, not a SharedArrayBuffer/);
  const q = api.attach('smc-f7-7', request());
  win.postMessage({ smcAttach: 'smc-f7-7' }, ORIGIN);
  await assert.rejects(q, /is undefined, not a SharedArrayBuffer/);
  assert.equal(host.started.length, 0);
});

test('a buffer too small for the announced rings, or whose header disagrees, is refused', async () => {
  const host = recordingHost();
  const { win, api } = setup({ host });
  const p = api.attach('smc-g8-8', request(1 << 20, 1 << 20));
  win.postMessage({ smcAttach: 'smc-g8-8', buffer: region(4096, 4096) }, ORIGIN);
  await assert.rejects(p, /has 10240 bytes, too small for the announced rings \(header 2048 \+ r2n 1048576 \+ n2r 1048576 = 2099200 bytes\)/);
  const q = api.attach('smc-g9-9', request(4096, 8192));
  win.postMessage({ smcAttach: 'smc-g9-9', buffer: region(8192, 4096) }, ORIGIN);
  await assert.rejects(q, /header of token smc-g9-9 says rings r2n 8192 \/ n2r 4096, but attach announced r2n 4096 \/ n2r 8192/);
  await assert.rejects(api.attach('smc-g10-10', request(5000, 4096)), /request\.rings\.r2n 5000 is invalid: it must be a power of two/);
  assert.equal(host.started.length, 0);
});

test('an attach whose buffer never comes fails after the stated timeout, saying what did not arrive', async () => {
  const { api, bridge } = setup({ host: recordingHost(), attachTimeoutMs: 150 });
  const t0 = Date.now();
  await assert.rejects(api.attach('smc-h1-11', request()), /no SharedArrayBuffer arrived for token smc-h1-11 within 150 ms/);
  assert.ok(Date.now() - t0 >= 140, 'not before the timeout');
  assert.deepEqual(bridge.handshake.pending, { waiting: 0, arrived: 0 });
});

test('bad tokens and malformed requests are refused with the bad value named', async () => {
  const { win, api, warnings } = setup({ host: recordingHost() });
  await assert.rejects(api.attach('../x', request()), /token must look like 'smc-<base36>-<digits>', not "\.\.\/x"/);
  await assert.rejects(api.attach('smc-i1-12', '{nope'), /the request is not valid JSON/);
  await assert.rejects(api.attach('smc-i2-13', JSON.stringify({ peer: { handler: 'echo' } })), /request\.rings must be an object/);
  await assert.rejects(api.attach('smc-i3-14', request(4096, 4096, { handler: 'rm -rf' })), /unknown handler "rm -rf".*built-in handlers are echo, sink/);
  win.dispatch({ data: { smcAttach: 42, buffer: region() }, origin: ORIGIN });
  assert.match(warnings.join('\n'), /ignored an attach message with token 42/);
});

// ---- plugins by name, with the real addon ---------------------------------------------------

test('unknown plugin names and paths are refused, listing the app\'s plugins', async () => {
  const { win, api, catalog } = setup();
  assert.deepEqual(catalog.names, ['echo', 'image-filter', 'image-source']);
  for (const bad of ['nope', '../../../tmp/evil', pluginPath('echo'), 'image_source']) {
    const token = `smc-j${Math.random().toString(36).slice(2)}-1`;
    win.postMessage({ smcAttach: token, buffer: region() }, ORIGIN);
    await assert.rejects(
      api.attach(token, request(4096, 4096, { plugin: bad })),
      (e) => e.message.includes(`unknown plugin ${JSON.stringify(bad)}`) && e.message.includes("this app's plugins are echo, image-filter, image-source"),
    );
  }
  // ...and by loadPlugin on a live channel, which keeps its plugin.
  const { ch, transport } = await openChannel(api, { plugin: 'echo' }, 4096, 1 << 16);
  try {
    assert.throws(() => ch.loadPlugin('/usr/lib/libc.so.6', {}), /unknown plugin "\/usr\/lib\/libc\.so\.6" in loadPlugin/);
    assert.throws(() => ch.loadPlugin('image-source', 'x'), /config must be a JSON object/);
    assert.equal(transport.stats().pluginName, 'echo');
    assert.equal(transport.stats().pluginLoads, 1);
  } finally {
    ch.cleanup();
  }
});

/** Resolves once `cond()` holds, checking on every timer turn; fails after `ms`. */
async function until(cond, what, ms = 10_000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

test('built-in echo through the real addon, both doorbells crossing the bridge', async () => {
  const { api, bridge } = setup();
  const transport = new ElectronTransport(api, { handler: 'echo' });
  // The region, to watch the page's own consumer_parked word.
  let ctrl = null;
  const start = transport.start.bind(transport);
  transport.start = (o) => {
    ctrl = new Int32Array(o.buffer);
    start(o);
  };
  const ch = new SharedMemoryChannel(1 << 16, 1 << 22, { transport });
  await transport.whenAttached();
  const received = [];
  ch.startReceiving((m) => void received.push(new TextDecoder().decode(m)));
  try {
    for (let i = 0; i < 3; i++) {
      // Both sides parked: the send can only reach the native thread through
      // smcNative.wake, and its echo can only reach the page through a doorbell.
      const parks = transport.stats().parks;
      await until(() => transport.stats().parks > parks || (i === 0 && parks > 0), 'the native side to park');
      await until(() => Atomics.load(ctrl, protocol.N2R_WORDS.consumerParked) !== 0, 'the page side to park');
      ch.send(new TextEncoder().encode(`hello ${i}`));
      await until(() => received.length === i + 1, `echo ${i}`);
      assert.equal(received[i], `hello ${i}`);
    }
    const s = transport.stats();
    assert.equal(s.messagesReceived, 3);
    assert.equal(s.messagesSent, 3);
    assert.ok(s.wakesFromJs >= 3, `page -> native wakes through the bridge: ${s.wakesFromJs}`);
    assert.ok(s.doorbellsRung >= 3, `native -> page doorbells through the bridge: ${s.doorbellsRung}`);
    assert.equal(bridge.openChannels(), 1);
  } finally {
    ch.cleanup();
  }
  assert.equal(bridge.openChannels(), 0);
  assert.throws(() => api.wake(transport.token, protocol.R2N_WORDS.consumerWakeSeq), /no open channel has token/);
});

test('image-source is the native plugin, configured by the page', async () => {
  const { api } = setup();
  const { ch, transport } = await openChannel(api, { plugin: 'image-source', config: { width: 64, height: 48, fps: 200 } });
  try {
    const { packet, meta } = decodeFrame(await nextMessage(ch));
    assert.equal(packet.tag, 'IM');
    assert.deepEqual([meta.width, meta.height, meta.format], [64, 48, 'rgba8']);
    assert.equal(packet.binary.length, 64 * 48 * 4);
    const s = transport.stats();
    assert.equal(s.pluginName, 'image-source');
    assert.equal(s.pluginPath, pluginPath('image-source'));
  } finally {
    ch.cleanup();
  }
  // A config the plugin rejects comes back to the page as the plugin's own error.
  const other = setup();
  other.win.postMessage({ smcAttach: 'smc-k1-15', buffer: region(4096, 1 << 16) }, ORIGIN);
  await assert.rejects(
    other.api.attach('smc-k1-15', request(4096, 1 << 16, { plugin: 'image-source', config: { fps: 0 } })),
    /image-source.*fps/,
  );
});

test('image-filter is the native plugin; loadPlugin and unloadPlugin swap plugins by name', async () => {
  const { api } = setup();
  const { ch, transport } = await openChannel(api, { plugin: 'image-filter' });
  try {
    const w = 4;
    const h = 2;
    const px = new Uint8Array(w * h * 4).map((_, i) => (i * 7) & 255);
    const frame = bpg.encode({ tag: 'IM', targetId: 1, groupId: 9, metadata: JSON.stringify({ width: w, height: h, channels: 4, filter: 'invert' }), binary: px });
    const reply = nextMessage(ch);
    ch.send(frame);
    const { packet } = decodeFrame(await reply);
    for (let i = 0; i < px.length; i++) assert.equal(packet.binary[i], i % 4 === 3 ? px[i] : 255 - px[i], `byte ${i}`);

    ch.loadPlugin('image-source', { width: 32, height: 16, fps: 200 });
    const next = decodeFrame(await nextMessage(ch));
    assert.deepEqual([next.meta.width, next.meta.height], [32, 16]);
    assert.equal(transport.stats().pluginName, 'image-source');
    assert.equal(ch.unloadPlugin(), true);
    assert.equal(transport.stats().pluginLoaded, false);
  } finally {
    ch.cleanup();
  }
});

test('wake accepts only the two words the peer sleeps on', async () => {
  const { api } = setup();
  const { ch, transport } = await openChannel(api, { handler: 'sink' });
  try {
    api.wake(transport.token, protocol.R2N_WORDS.consumerWakeSeq);
    api.wake(transport.token, protocol.N2R_WORDS.producerWakeSeq);
    assert.throws(() => api.wake(transport.token, 0), /word 0 is not one the peer sleeps on: 161 \(R2N consumer_wake_seq\) or 321 \(N2R producer_wake_seq\)/);
    assert.throws(() => api.wake(transport.token, '161'), /word "161" is not one/);
  } finally {
    ch.cleanup();
  }
});
