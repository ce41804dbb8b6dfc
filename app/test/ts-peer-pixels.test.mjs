// The TypeScript peer (the browser dashboard's Web Worker, and the isolated-world e2e's
// stand-in for the addon) draws and filters frames with app/src/peer/image.ts; the native
// image-source and image-filter plugins are what Electron runs. Same frames, same pixels:
// checked byte for byte against the real plugins through the real addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const ts = require('typescript');
const { SharedMemoryChannel, pluginPath, bpg } = require('shared-memory-channel');

// image.ts has no imports: transpiled on its own (the app's tsc checks its types).
async function loadImageTs() {
  const src = readFileSync(path.join(root, 'app/src/peer/image.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'smc-image-')), 'image.mjs');
  writeFileSync(file, js);
  return import(pathToFileURL(file).href);
}

/** Collects `want` messages from a plugin channel, transformed by `take`. */
async function collect(ch, want, take) {
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${want} messages within 10 s`)), 10_000);
    ch.startReceiving((m) => {
      if (got.length < want) got.push(take(m));
      if (got.length === want) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return got;
}

function diff(a, b) {
  assert.equal(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

test('the TS peer filters frames exactly as the native image-filter plugin', async () => {
  const { applyFilter } = await loadImageTs();
  const w = 37;
  const h = 23;
  let seed = 12345;
  const px = new Uint8Array(w * h * 4).map(() => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
  const filters = ['grayscale', 'invert', 'blur'];
  const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { plugin: pluginPath('image-filter') });
  try {
    const replies = collect(ch, filters.length, (m) => new Uint8Array(bpg.decodeOne(m).packet.binary));
    for (const filter of filters) {
      ch.send(bpg.encode({ tag: 'IM', targetId: 0, groupId: 1, metadata: JSON.stringify({ width: w, height: h, channels: 4, filter }), binary: px }));
    }
    const native = await replies;
    filters.forEach((filter, i) => {
      const mine = new Uint8Array(px.length);
      applyFilter(filter, px, mine, w, h);
      assert.equal(diff(mine, native[i]), 0, `${filter}: bytes that differ`);
    });
  } finally {
    ch.cleanup();
  }
});

test('the TS peer draws the native image-source plugin\'s frames', async () => {
  const { renderFrame } = await loadImageTs();
  const w = 300;
  const h = 7;
  const ch = new SharedMemoryChannel(1 << 16, 1 << 22, { plugin: pluginPath('image-source'), config: { width: w, height: h, fps: 200 } });
  try {
    const frames = await collect(ch, 3, (m) => {
      const { packet } = bpg.decodeOne(m);
      return { n: JSON.parse(packet.metadata).frame, px: new Uint8Array(packet.binary) };
    });
    for (const { n, px } of frames) {
      const mine = new Uint8Array(px.length);
      renderFrame(mine, w, h, n);
      assert.equal(diff(mine, px), 0, `frame ${n}: bytes that differ`);
    }
  } finally {
    ch.cleanup();
  }
});
