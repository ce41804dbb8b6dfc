// Whole-process behaviour, each in a child process so a crash or a hang fails the test:
// the example run from a project that installed the package, GC finalization,
// idle CPU, and exit with open channels.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runNode } from './helpers';

// Compiled to build/js-test/test/: the repository root is three levels up.
const repo = path.resolve(__dirname, '..', '..', '..');
const fixture = (name: string): string => path.join(__dirname, 'fixtures', `${name}.js`);

const EXAMPLE_LINES = [
  'const channel = new SharedMemoryChannel(1024 * 1024, 1024 * 1024);',
  'channel.send(new Uint8Array([1, 2, 3, 4]));',
  "channel.startReceiving((message) => console.log('Received message:', message));",
  'channel.cleanup();',
];

/** A project that installed the package by path: node_modules/shared-memory-channel -> repo. */
function makeProject(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smc-example-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(repo, path.join(dir, 'node_modules', 'shared-memory-channel'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'example-app', private: true, dependencies: { 'shared-memory-channel': `file:${repo}` } }));
  return dir;
}

test("the issue's example, run from a project that installed the package, prints the four bytes", async (t) => {
  const dir = makeProject(t);
  const req = "const { SharedMemoryChannel } = require('shared-memory-channel');";
  // As written, cleanup() runs before the echo can arrive: it must exit cleanly, silently.
  fs.writeFileSync(path.join(dir, 'verbatim.js'), [req, ...EXAMPLE_LINES, ''].join('\n'));
  // "when cleanup is called after the echo arrives": the last line, deferred until the
  // channel has delivered a message (a fixed delay was a race on a loaded machine: the
  // child's start-up alone can take longer). A 5 s cap keeps a lost echo a failure of the
  // stdout assertion below rather than a hang.
  const cleanupAfterEcho = [
    'const started = Date.now();',
    'const poll = setInterval(() => {',
    '  if (channel.getStats().messagesReceived < 1 && Date.now() - started < 5000) return;',
    '  clearInterval(poll);',
    `  ${EXAMPLE_LINES[3]!}`,
    "  require('fs').writeFileSync(process.argv[2], String(Date.now())); // when cleanup() returned",
    '}, 5);',
  ];
  const deferred = [req, ...EXAMPLE_LINES.slice(0, 3), ...cleanupAfterEcho, ''];
  fs.writeFileSync(path.join(dir, 'deferred.js'), deferred.join('\n'));

  const v = await runNode(['verbatim.js'], 10_000, dir);
  assert.equal(v.timedOut, false);
  assert.equal(v.stderr, '');
  assert.equal(v.code, 0, `verbatim example exit code (stderr: ${v.stderr})`);
  assert.equal(v.stdout, '', 'cleanup() before the echo: nothing delivered');

  for (let i = 0; i < 3; i++) {
    const stamp = path.join(dir, `cleanup-${i}.txt`);
    const r = await runNode(['deferred.js', stamp], 10_000, dir);
    const exitedAt = Date.now();
    assert.equal(r.timedOut, false);
    assert.equal(r.stderr, '', 'no crash output at exit');
    assert.equal(r.signal, null);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'Received message: Uint8Array(4) [ 1, 2, 3, 4 ]\n');
    const afterCleanup = exitedAt - Number(fs.readFileSync(stamp, 'utf8'));
    assert.ok(afterCleanup < 2000, `exits promptly once cleanup() returned (${afterCleanup} ms later): nothing keeps it alive`);
  }
});

test("the issue's example type-checks with tsc --strict against the package's published .d.ts", async (t) => {
  const dir = makeProject(t);
  fs.writeFileSync(path.join(dir, 'example.ts'), ["import { SharedMemoryChannel } from 'shared-memory-channel';", ...EXAMPLE_LINES, ''].join('\n'));
  // Negative control in the same run: proves the package's types were really resolved.
  fs.writeFileSync(path.join(dir, 'control.ts'), "import { SharedMemoryChannel } from 'shared-memory-channel';\nnew SharedMemoryChannel(4096, 4096).send(42);\n");
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'commonjs',
        moduleResolution: 'node10',
        types: ['node'],
        typeRoots: [path.join(repo, 'node_modules', '@types')],
        skipLibCheck: true, // checking @types/node itself would triple the time
      },
      files: ['example.ts', 'control.ts'],
    }),
  );
  const r = await runNode([path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(dir, 'tsconfig.json')], 60_000, dir);
  const lines = (r.stdout + r.stderr).trim().split('\n');
  assert.equal(lines.length, 1, `only the control fails: ${r.stdout}${r.stderr}`);
  assert.match(lines[0]!, /^control\.ts\(2,42\): error TS2345: Argument of type 'number' is not assignable to parameter of type 'SendData'/);
  // It resolved the published declarations, not the sources.
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { types: string };
  assert.equal(pkg.types, './js/dist/cjs/index.d.ts');
  assert.ok(fs.existsSync(path.join(repo, pkg.types)));
});

test('GC: 50 channels dropped without cleanup are finalized; threads do not pile up', async () => {
  const r = await runNode(['--expose-gc', fixture('gc-finalize'), '50'], 30_000);
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, `child failed: ${r.stderr}`);
  const { before, peak, after } = JSON.parse(r.stdout) as { before: number; peak: number; after: number };
  assert.ok(peak > before, `channels started native threads (${before} -> ${peak})`);
  assert.ok(after <= before + 2, `threads after GC: ${after}, before: ${before}, peak: ${peak}`);
});

test('idle CPU: an open, receiving doorbell channel (its park timeout re-checking the ring) costs < 1 % of a core while its park timeout runs 20 times', async (t) => {
  const r = await runNode([fixture('idle-cpu'), '2000'], 20_000);
  assert.equal(r.code, 0, `child failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout) as { userMs: number; systemMs: number; wallMs: number; got: number[]; parkTimeouts: number; wanted: number; received: number };
  t.diagnostic(`idle ${s.wallMs.toFixed(0)} ms, ${s.parkTimeouts} park timeouts: user ${s.userMs.toFixed(1)} ms, system ${s.systemMs.toFixed(1)} ms`);
  assert.deepEqual(s.got, [1, 2], 'works before and after idling');
  assert.ok(s.parkTimeouts >= s.wanted, `the JS park timeout ran ${s.parkTimeouts} times while idle, fewer than ${s.wanted} in ${s.wallMs.toFixed(0)} ms`);
  assert.equal(s.received, 0, 'nothing arrived while idle');
  assert.ok(s.wallMs >= 1990);
  assert.ok(s.userMs + s.systemMs < s.wallMs / 100, `CPU while idle: ${(s.userMs + s.systemMs).toFixed(1)} ms of ${s.wallMs.toFixed(0)} ms (< 1 %)`);
});

for (const mode of ['natural', 'exit'] as const) {
  test(`process exit with open, busy channels and no cleanup (${mode}) does not hang`, async () => {
    const r = await runNode([fixture('exit-open'), mode], 10_000);
    assert.equal(r.timedOut, false, 'exited on its own');
    assert.equal(r.stderr, '');
    assert.equal(r.signal, null);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'done\n');
    assert.ok(r.ms < 5000, `${r.ms} ms`);
  });
}

// Node's liveness convention (docs/api.md): a channel that receives, or has sends pending,
// keeps the process alive like a MessagePort with a 'message' listener; cleanup(),
// stopReceiving() and unref() let it go. Each case is an ES module with top-level await,
// importing the compiled library by path.
const library = path.join(__dirname, '..', 'src', 'index.js');
const LIVENESS: Array<{ name: string; body: string; stdout: string; code: number | 'alive' }> = [
  {
    name: 'top-level await of an echo reply prints it and exits 0',
    body: `const ch = new SharedMemoryChannel(1 << 16, 1 << 16);
const reply = await new Promise((resolve) => {
  ch.startReceiving((m) => resolve(m.slice()));
  ch.send(new Uint8Array([1, 2, 3, 4]));
});
console.log('reply', reply.join(','));
ch.cleanup();`,
    stdout: 'reply 1,2,3,4\n',
    code: 0,
  },
  {
    name: 'top-level await of a sendAsync that waits for ring space (4 MiB through 4 KiB) settles and exits 0',
    body: `const ch = new SharedMemoryChannel(4096, 4096, { handler: 'sink' });
await ch.sendAsync(new Uint8Array(4 << 20).fill(7));
while (ch.getStats().peer.sinkBytes !== 4 << 20) await new Promise((r) => setImmediate(r));
console.log('sent', ch.getStats().peer.sinkMessages);
ch.cleanup();`,
    stdout: 'sent 1\n',
    code: 0,
  },
  {
    name: 'a receiving channel nobody cleans up keeps the process alive',
    body: `const ch = new SharedMemoryChannel(4096, 4096);
ch.startReceiving(() => {});
console.log('receiving');`,
    stdout: 'receiving\n',
    code: 'alive',
  },
  {
    name: "an unref'd receiving channel lets the process exit",
    body: `const ch = new SharedMemoryChannel(4096, 4096);
ch.startReceiving(() => {});
ch.unref();
console.log('unref');`,
    stdout: 'unref\n',
    code: 0,
  },
  {
    name: 'stopReceiving() lets the process exit',
    body: `const ch = new SharedMemoryChannel(4096, 4096);
const got = await new Promise((resolve) => {
  ch.startReceiving((m) => resolve(m[0]));
  ch.send(new Uint8Array([9]));
});
ch.stopReceiving();
console.log('stopped', got);`,
    stdout: 'stopped 9\n',
    code: 0,
  },
  {
    name: 'a cleaned-up channel never holds the process (keepAlive included)',
    body: `const ch = new SharedMemoryChannel(4096, 4096, { keepAlive: true });
ch.startReceiving(() => {});
ch.send(new Uint8Array(100_000));
ch.cleanup();
console.log('cleaned');`,
    stdout: 'cleaned\n',
    code: 0,
  },
];

test('liveness: receiving or pending sends keep the process alive; cleanup(), stopReceiving() and unref() release it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smc-liveness-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ALIVE_MS = 2000;
  for (const [i, c] of LIVENESS.entries()) {
    const file = path.join(dir, `case-${i}.mjs`);
    fs.writeFileSync(file, `import lib from ${JSON.stringify(library)};\nconst { SharedMemoryChannel } = lib;\n${c.body}\n`);
    const r = await runNode([file], c.code === 'alive' ? ALIVE_MS : 10_000);
    assert.equal(r.stderr, '', `${c.name}: stderr`);
    assert.equal(r.stdout, c.stdout, c.name);
    if (c.code === 'alive') {
      assert.equal(r.timedOut, true, `${c.name}: exited (code ${r.code}) although the channel should hold it`);
    } else {
      assert.equal(r.timedOut, false, `${c.name}: still running after 10 s`);
      assert.equal(r.code, c.code, `${c.name}: exit code (13: a top-level await never settled)`);
      assert.ok(r.ms < 5000, `${c.name}: exited after ${r.ms} ms`);
    }
  }
});

test('terminating worker threads in the middle of channel calls never ends the process', { timeout: 120_000 }, async () => {
  // Before the addon swallowed exceptions it cannot throw into a terminating worker,
  // this process died with "terminate called after throwing an instance of
  // 'Napi::Error'" within the first hundred terminations (the soak's workers actor).
  const r = await runNode([fixture('terminate-workers'), '100'], 110_000);
  assert.equal(r.timedOut, false, 'the terminations finished');
  assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /survived 100 terminations/);
});
