// Native plugins end to end from JS (docs/plugins.md): the real addon (build/release/smc.node)
// runs the built example plugins (build/release/plugins) as the channel's peer.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChannelError, SharedMemoryChannel, pluginPath } from '../src/index';
import { BpgRequester, decodeOne, type BpgGroup } from '../src/bpg';
import { runNode } from './helpers';

interface FrameInfo {
  size: number;
  meta: { width: number; height: number; channels: number; format: string; frame: number; timestamp: number };
  groupId: number;
  tag: string;
  /** R, G, B, A of the bottom-right pixel */
  last: number[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function collectFrames(width: number, height: number, fps: number, want: number): Promise<FrameInfo[]> {
  const ch = new SharedMemoryChannel(1 << 16, 1 << 22, {
    plugin: pluginPath('image-source'),
    config: { width, height, fps },
  });
  const frames: FrameInfo[] = [];
  try {
    ch.startReceiving((m) => {
      const { packet } = decodeOne(m);
      const px = packet.binary;
      const o = px.length - 4;
      frames.push({
        size: px.length,
        meta: JSON.parse(packet.metadata) as FrameInfo['meta'],
        groupId: packet.groupId,
        tag: packet.tag,
        last: [px[o]!, px[o + 1]!, px[o + 2]!, px[o + 3]!],
      });
    });
    const deadline = Date.now() + 20_000;
    while (frames.length < want && Date.now() < deadline) await sleep(10);
  } finally {
    ch.cleanup();
  }
  return frames;
}

function checkFrames(frames: FrameInfo[], width: number, height: number, fps: number, want: number): void {
  assert.ok(frames.length >= want, `got ${frames.length} frames, wanted ${want}`);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    assert.equal(f.tag, 'IM');
    assert.equal(f.size, width * height * 4);
    assert.equal(f.meta.width, width);
    assert.equal(f.meta.height, height);
    assert.equal(f.meta.channels, 4);
    assert.equal(f.meta.format, 'rgba8');
    assert.equal(f.groupId, f.meta.frame);
    if (i > 0) {
      assert.ok(f.meta.frame > frames[i - 1]!.meta.frame, 'frame numbers increase');
      assert.ok(f.meta.timestamp > frames[i - 1]!.meta.timestamp, 'timestamps increase');
    }
    // The documented pattern: consecutive frames differ.
    const n = f.meta.frame;
    const x = width - 1;
    const y = height - 1;
    assert.deepEqual(f.last, [(x + 3 * n) & 255, (y + 2 * n) & 255, (x + y + n) & 255, 255]);
  }
  assert.ok(Math.abs(frames[0]!.meta.timestamp - Date.now()) < 60_000, 'timestamp is ms since the epoch');
  // Rate from the source's own timestamps: never faster than asked, not far slower.
  const first = frames[0]!;
  const last = frames[frames.length - 1]!;
  const rate = ((last.meta.frame - first.meta.frame) * 1000) / (last.meta.timestamp - first.meta.timestamp);
  assert.ok(rate <= fps * 1.1, `rate ${rate.toFixed(1)} fps exceeds the configured ${fps}`);
  assert.ok(rate >= fps * 0.6, `rate ${rate.toFixed(1)} fps is far below the configured ${fps}`);
  const dropped = last.meta.frame - first.meta.frame + 1 - frames.length;
  assert.ok(dropped <= frames.length / 4, `${dropped} frames dropped`);
}

test('image-source: frames at the configured size and rate, written in place', async () => {
  // 160x120x4 = 76800 B fits one record of the 4 MiB native -> JS ring (max 1 MiB - 8).
  const frames = await collectFrames(160, 120, 50, 40);
  checkFrames(frames, 160, 120, 50, 40);
});

test('image-source: frames larger than a ring record fall back to copied fragments', async () => {
  // 640x480x4 = 1.2 MB: above the 1 MiB record limit of the 4 MiB ring.
  const frames = await collectFrames(640, 480, 20, 12);
  checkFrames(frames, 640, 480, 20, 12);
});

// ---- image-filter ------------------------------------------------------------------------

const W = 5;
const H = 4;
function knownFrame(): Uint8Array {
  const px = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    px[i * 4] = (i * 37) & 255;
    px[i * 4 + 1] = (i * 91 + 13) & 255;
    px[i * 4 + 2] = (255 - i * 11) & 255;
    px[i * 4 + 3] = 100 + i;
  }
  return px;
}

function expected(filter: string, src: Uint8Array, radius = 1): Uint8Array {
  const out = new Uint8Array(src.length);
  if (filter === 'grayscale') {
    for (let i = 0; i < src.length; i += 4) {
      const y = (77 * src[i]! + 150 * src[i + 1]! + 29 * src[i + 2]! + 128) >> 8;
      out[i] = out[i + 1] = out[i + 2] = y;
      out[i + 3] = src[i + 3]!;
    }
  } else if (filter === 'invert') {
    for (let i = 0; i < src.length; i += 4) {
      out[i] = 255 - src[i]!;
      out[i + 1] = 255 - src[i + 1]!;
      out[i + 2] = 255 - src[i + 2]!;
      out[i + 3] = src[i + 3]!;
    }
  } else {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let k = 0; k < 4; k++) {
          let sum = 0;
          let count = 0;
          for (let yy = Math.max(0, y - radius); yy <= Math.min(H - 1, y + radius); yy++) {
            for (let xx = Math.max(0, x - radius); xx <= Math.min(W - 1, x + radius); xx++) {
              sum += src[(yy * W + xx) * 4 + k]!;
              count++;
            }
          }
          out[(y * W + x) * 4 + k] = Math.floor((sum + Math.floor(count / 2)) / count);
        }
      }
    }
  }
  return out;
}

test('image-filter: grayscale, invert and blur return the expected pixels', async () => {
  const ch = new SharedMemoryChannel(1 << 20, 1 << 20, { plugin: pluginPath('image-filter') });
  const req = new BpgRequester({ send: (b) => void ch.send(b) });
  ch.startReceiving((b) => req.receive(b));
  try {
    const src = knownFrame();
    const cases: Array<[string, number | undefined]> = [
      ['grayscale', undefined],
      ['invert', undefined],
      ['blur', undefined],
      ['blur', 2],
    ];
    for (const [filter, radius] of cases) {
      const metadata = JSON.stringify({ width: W, height: H, channels: 4, format: 'rgba8', filter, ...(radius ? { radius } : {}) });
      const reply: BpgGroup = await req.request([{ tag: 'IM', targetId: 42, metadata, binary: src }], { timeoutMs: 5000 });
      assert.equal(reply.targetId, 42);
      assert.equal(reply.packets.length, 1);
      const p = reply.packets[0]!;
      assert.equal(p.tag, 'IM', `${filter}: ${p.metadata}`);
      assert.equal(p.metadata, metadata);
      assert.deepEqual(Array.from(p.binary), Array.from(expected(filter, src, radius ?? 1)), filter);
    }
    // A request it cannot serve gets an ER packet in the same group.
    const bad = await req.request(
      [{ tag: 'IM', targetId: 42, metadata: JSON.stringify({ width: W, height: H, filter: 'sepia' }), binary: src }],
      { timeoutMs: 5000 },
    );
    assert.equal(bad.packets[0]!.tag, 'ER');
    assert.match(bad.packets[0]!.metadata, /sepia/);
  } finally {
    req.close(new Error('done'));
    ch.cleanup();
  }
});

// ---- loader errors and live load / unload ----------------------------------------------

test('loader errors surface as JS errors naming the path', () => {
  const missing = path.join(os.tmpdir(), 'smc-no-such-plugin.so');
  assert.throws(
    () => new SharedMemoryChannel(1 << 16, 1 << 16, { plugin: missing }),
    (e: Error) => e.message.includes(`'${missing}'`) && e.message.includes('file not found'),
  );
  const text = path.join(os.tmpdir(), `smc-not-a-library-${process.pid}.so`);
  fs.writeFileSync(text, 'plain text, not a shared library\n');
  try {
    assert.throws(
      () => new SharedMemoryChannel(1 << 16, 1 << 16, { plugin: text }),
      (e: Error) => e.message.includes(text) && e.message.includes('not a shared library'),
    );
  } finally {
    fs.unlinkSync(text);
  }
  assert.throws(
    () => new SharedMemoryChannel(1 << 16, 1 << 16, { plugin: pluginPath('image-source'), config: { width: 0 } }),
    (e: Error) => e.message.includes(pluginPath('image-source')) && /create failed: config\.width must be an integer/.test(e.message),
  );
  // The ABI-mismatch test plugin, when the release build has the tests.
  const abi = path.join(path.dirname(path.dirname(pluginPath('echo'))), 'test-plugins', path.basename(pluginPath('echo')).replace('smc_echo', 'smc_test_abi_mismatch'));
  if (fs.existsSync(abi)) {
    assert.throws(
      () => new SharedMemoryChannel(1 << 16, 1 << 16, { plugin: abi }),
      (e: Error) => e.message.includes(abi) && /ABI version mismatch.*999.*ABI version 1/.test(e.message),
    );
  }
  assert.throws(() => pluginPath('no-such-plugin'), /plugin 'no-such-plugin' not found/);
});

test('loadPlugin / unloadPlugin on a live channel', async () => {
  const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'plugin' });
  const got: string[] = [];
  ch.startReceiving((m) => got.push(Buffer.from(m).toString()));
  const until = async (pred: () => boolean): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!pred() && Date.now() < end) await sleep(5);
  };
  try {
    // Empty slot: dropped and counted.
    ch.send('dropped');
    await until(() => ch.getStats().peer.pluginDropped === 1);
    assert.equal(ch.getStats().peer.pluginDropped, 1);
    assert.equal(ch.getStats().peer.pluginLoaded, false);

    ch.loadPlugin(pluginPath('echo'));
    assert.equal(ch.getStats().peer.pluginName, 'echo');
    ch.send('hello');
    await until(() => got.length === 1);
    assert.deepEqual(got, ['hello']);

    const missing = '/nonexistent/libsmc_x.so';
    assert.throws(() => ch.loadPlugin(missing, {}), (e: Error) => e instanceof ChannelError && e.code === 'plugin_load_failed' && e.message.includes(missing));
    assert.equal(ch.getStats().peer.pluginLoaded, false); // a failed load leaves the slot empty

    ch.loadPlugin(pluginPath('echo'), {});
    for (let i = 0; i < 100; i++) ch.send(`m${i}`);
    await until(() => got.length === 101);
    assert.equal(got.length, 101);
    assert.equal(got[100], 'm99');
    assert.equal(ch.unloadPlugin(), true);
    assert.equal(ch.unloadPlugin(), false);
    assert.equal(ch.getStats().peer.pluginUnloads, 2);
  } finally {
    ch.cleanup();
  }
  assert.throws(() => ch.loadPlugin(pluginPath('echo')), /closed/);

  // A channel whose peer is not a plugin slot says so.
  const echo = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'echo' });
  try {
    assert.throws(() => echo.loadPlugin(pluginPath('echo')), /native handler is not 'plugin'/);
  } finally {
    echo.cleanup();
  }
});

test('unloading a streaming source while JS is not reading does not hang', async () => {
  // Nobody reads: the source thread fills the ring and blocks in reserve; unload must
  // interrupt it (SMC_ERR_STOPPING) instead of waiting for JS, which is itself waiting.
  const ch = new SharedMemoryChannel(1 << 16, 1 << 16, {
    plugin: pluginPath('image-source'),
    config: { width: 64, height: 64, fps: 1000, timeoutMs: 60000 },
  });
  try {
    await sleep(200);
    const t0 = Date.now();
    assert.equal(ch.unloadPlugin(), true);
    assert.ok(Date.now() - t0 < 2000, `unload took ${Date.now() - t0} ms`);
  } finally {
    ch.cleanup();
  }
});

test('a FIFO (a named pipe on Windows) is refused at once with an error naming it, never opened', async () => {
  // In a child: a loader that opened the FIFO would block its JS thread for good.
  const r = await runNode([path.join(__dirname, 'fixtures', 'special-file-plugin.js')], 20_000);
  assert.equal(r.timedOut, false, `loading a FIFO blocked (killed after 20 s); stderr: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { path: string; viaLoad: string; viaConstructor: string };
  for (const message of [out.viaLoad, out.viaConstructor]) {
    assert.ok(message.includes(`'${out.path}'`), message);
    assert.match(message, /is a FIFO \(named pipe\), not a regular file/);
  }
});
