// The tarball installed with no compiler on PATH, used as a consumer would: by package
// name, from ES modules, CommonJS and strict TypeScript (nodenext and bundler).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { prebuiltDir, hiddenPath, runNode, writeIn } from './env.mjs';
import { HIDDEN } from './hidden-path.mjs';
import { readmeExample, toCommonJs } from './docs-blocks.mjs';

const pkgDir = path.join(prebuiltDir, 'node_modules/shared-memory-channel');

test('the install ran with no compiler or CMake on PATH and took the prebuilt binary', () => {
  for (const tool of ['cmake', 'ninja', 'g++', 'c++', 'cc', 'gcc', 'clang']) {
    const r = spawnSync(tool, ['--version'], { env: { PATH: hiddenPath } });
    assert.equal(r.error?.code, 'ENOENT', `${tool} is still on the hidden PATH`);
  }
  assert.ok(HIDDEN.test('x86_64-linux-gnu-g++-12'));
  const log = readFileSync(path.join(prebuiltDir, 'install.log'), 'utf8');
  assert.match(log, /using the prebuilt binary for linux-x64 \(glibc >= \d+\.\d+\)/);
  assert.equal(existsSync(path.join(pkgDir, 'build')), false, 'the install built something');
});

test('the README example runs verbatim as an ES module and prints the echo', () => {
  const file = writeIn(prebuiltDir, 'readme.mjs', readmeExample());
  const r = runNode(prebuiltDir, file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Received message: Uint8Array\(4\) \[ 1, 2, 3, 4 \]/);
});

test('the README example runs as CommonJS and prints the echo', () => {
  const file = writeIn(prebuiltDir, 'readme.cjs', toCommonJs(readmeExample()));
  const r = runNode(prebuiltDir, file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Received message: Uint8Array\(4\) \[ 1, 2, 3, 4 \]/);
});

test('every entry point resolves under import and require, to one instance under Node', () => {
  const file = writeIn(prebuiltDir, 'entries.mjs', `
import { createRequire } from 'node:module';
import * as main from 'shared-memory-channel';
import * as browser from 'shared-memory-channel/browser';
import * as bpg from 'shared-memory-channel/bpg';
import * as protocol from 'shared-memory-channel/protocol';
const require = createRequire(import.meta.url);
const cjs = require('shared-memory-channel');
const out = {
  main: typeof main.SharedMemoryChannel, pluginPath: typeof main.pluginPath,
  browser: typeof browser.SharedMemoryChannel, browserHasAddon: 'loadAddon' in browser,
  bpg: typeof bpg.encode, protocol: typeof protocol.attachRegion,
  sameClass: main.SharedMemoryChannel === cjs.SharedMemoryChannel && browser.SharedMemoryChannel === cjs.SharedMemoryChannel,
  cjsBpg: typeof require('shared-memory-channel/bpg').decodeOne,
  cjsProtocol: typeof require('shared-memory-channel/protocol').Endpoint,
};
console.log(JSON.stringify(out));
`);
  const r = runNode(prebuiltDir, file);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    main: 'function', pluginPath: 'function', browser: 'function', browserHasAddon: false,
    bpg: 'function', protocol: 'function', sameClass: true, cjsBpg: 'function', cjsProtocol: 'function',
  });
});

const tsConsumer = `import { SharedMemoryChannel, ChannelError, pluginPath, type ChannelOptions } from 'shared-memory-channel';
import { SharedMemoryChannel as BrowserChannel } from 'shared-memory-channel/browser';
import { encode, decodeOne, type BpgPacketInit } from 'shared-memory-channel/bpg';
import { attachRegion } from 'shared-memory-channel/protocol';

const options: ChannelOptions = { wakeMode: 'doorbell' };
const channel: SharedMemoryChannel = new SharedMemoryChannel(1 << 16, 1 << 16, options);
const same: typeof BrowserChannel = SharedMemoryChannel;
const packet: BpgPacketInit = { tag: 'TX', targetId: 1, groupId: 1, metadata: '{}' };
const size: number = decodeOne(encode(packet)).size;
const plugin: string = pluginPath('echo');
channel.on('error', (e: ChannelError) => console.error(e.code));
channel.startReceiving((message: Uint8Array) => {
  console.log('ts consumer got', message.length, 'bytes', size > 0, typeof attachRegion, same === SharedMemoryChannel, plugin.length > 0);
  channel.cleanup();
});
channel.send(new Uint8Array([9, 8, 7]));
`;

for (const resolution of ['nodenext', 'bundler']) {
  test(`a strict TypeScript consumer compiles with moduleResolution ${resolution}${resolution === 'nodenext' ? ' and runs' : ''}`, () => {
    const dir = path.join(prebuiltDir, `ts-${resolution}`);
    mkdirSync(dir, { recursive: true });
    writeIn(dir, 'index.ts', tsConsumer);
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    writeIn(dir, 'tsconfig.json', JSON.stringify({
      compilerOptions: { strict: true, target: 'es2022', module, moduleResolution: resolution, types: ['node'], outDir: 'out', skipLibCheck: false, noEmit: resolution !== 'nodenext' },
      files: ['index.ts'],
    }));
    const tsc = path.join(prebuiltDir, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    if (resolution === 'nodenext') {
      const run = runNode(dir, path.join(dir, 'out/index.js'));
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /ts consumer got 3 bytes true function true true/);
    }
  });
}

test('the image-source plugin found by pluginPath() streams frames through the prebuilt addon', () => {
  const file = writeIn(prebuiltDir, 'plugin.mjs', `
import { SharedMemoryChannel, pluginPath, bpg } from 'shared-memory-channel';
const path = pluginPath('image-source');
const ch = new SharedMemoryChannel(1 << 16, 1 << 22, { plugin: path, config: { width: 64, height: 48, fps: 200 } });
let frames = 0;
ch.startReceiving((m) => {
  const { packet } = bpg.decodeOne(m);
  const meta = JSON.parse(packet.metadata);
  if (++frames === 3) {
    console.log(JSON.stringify({ path, width: meta.width, height: meta.height, bytes: packet.binary.length }));
    ch.cleanup();
  }
});
`);
  const r = runNode(prebuiltDir, file);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.path, /node_modules\/shared-memory-channel\/prebuilds\/linux-x64\/plugins\/libsmc_image_source\.so$/);
  assert.equal(out.width, 64);
  assert.equal(out.height, 48);
  assert.ok(out.bytes >= 64 * 48, `frame of ${out.bytes} bytes`);
});

test('with the prebuild refused and nothing built, the error names the platform, the reason and npm rebuild', () => {
  const file = writeIn(prebuiltDir, 'no-addon.cjs', `
const { SharedMemoryChannel } = require('shared-memory-channel');
try { new SharedMemoryChannel(1 << 16, 1 << 16); console.log('constructed'); } catch (e) { console.log(e.message); }
`);
  const r = runNode(prebuiltDir, file, { env: { SMC_IGNORE_PREBUILDS: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /no native addon for linux-x64/);
  assert.match(r.stdout, /SMC_IGNORE_PREBUILDS is set/);
  assert.match(r.stdout, /npm rebuild shared-memory-channel/);
});
