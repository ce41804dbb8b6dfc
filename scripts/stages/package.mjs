// The package as a consumer gets it: `npm pack` (prepack builds js/dist and the
// prebuilds), then two fresh consumer folders under build/package/:
//   prebuilt/  the tarball installed with cmake, ninja and every C/C++ compiler hidden
//              from PATH (the install must take the prebuilt binary)
//   source/    the tarball installed with SMC_IGNORE_PREBUILDS=1 (the install must build
//              the addon and plugins from source, without GoogleTest)
//   windows/   the tarball unpacked with no install script run (as pnpm and Yarn Berry do),
//              for the real Windows node.exe under Wine (when Wine is installed and
//              SMC_SKIP_WINDOWS is not set): the win32-x64 prebuild must load by itself
// then test/package/*.test.mjs run against them (README and docs examples included).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hiddenCompilersPath } from '../../test/package/hidden-path.mjs';
import { root, run } from './util.mjs';
import { ensureNode, ensurePrefix, nodeExe, wineEnv } from './windows.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function consumer(dir, tarball, env, label) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: `smc-consumer-${label}`, private: true }, null, 2)}\n`);
  const t0 = Date.now();
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  const seconds = (Date.now() - t0) / 1000;
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(path.join(dir, 'install.log'), out);
  writeFileSync(path.join(dir, 'install.json'), `${JSON.stringify({ seconds, status: r.status }, null, 2)}\n`);
  console.log(`package: ${label} install: exit ${r.status} in ${seconds.toFixed(1)} s`);
  if (r.status !== 0) console.log(out);
  return r.status === 0;
}

export default function pkg() {
  const out = path.join(root, 'build/package');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const pack = spawnSync(npm, ['pack', '--json', '--pack-destination', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (pack.status !== 0) {
    console.log(`package: npm pack exited with ${pack.status}`);
    return false;
  }
  // npm prints the prepack's output on stdout before the JSON.
  const json = pack.stdout.slice(pack.stdout.indexOf('[\n'));
  writeFileSync(path.join(out, 'pack.json'), json);
  const tarball = path.join(out, readdirSync(out).find((f) => f.endsWith('.tgz')));
  console.log(`package: ${tarball}`);

  // The consumer's TypeScript and Node types come from the registry, as a user's would.
  const tsVersion = JSON.parse(spawnSync(process.execPath, ['-p', 'JSON.stringify(require("typescript/package.json").version)'], { cwd: root, encoding: 'utf8' }).stdout);
  const hidden = hiddenCompilersPath(path.join(out, 'bin-no-compilers'));
  const prebuiltOk = consumer(path.join(out, 'prebuilt'), tarball, { ...process.env, PATH: hidden }, 'prebuilt');
  const sourceOk = consumer(path.join(out, 'source'), tarball, { ...process.env, SMC_IGNORE_PREBUILDS: '1' }, 'source');
  if (!prebuiltOk || !sourceOk) return false;
  const tools = spawnSync(npm, ['install', '--no-audit', '--no-fund', `typescript@${tsVersion}`, '@types/node@20'], { cwd: path.join(out, 'prebuilt'), stdio: 'inherit' });
  if (tools.status !== 0) return false;

  // The Windows consumer: unpacked, no scripts; the test runs node.exe under Wine.
  let windowsReady = '';
  if (process.env.SMC_SKIP_WINDOWS === '1') console.log('package: the Windows consumer is skipped (SMC_SKIP_WINDOWS=1)');
  else if (spawnSync('wine', ['--version']).error) console.log('package: the Windows consumer needs wine (apt-get install wine64)');
  else {
    const win = path.join(out, 'windows', 'node_modules', 'shared-memory-channel');
    mkdirSync(win, { recursive: true });
    // A package scope of its own: else 'shared-memory-channel' resolves to this repository
    // (Node's package self-reference through the nearest package.json, /work/.../package.json).
    writeFileSync(path.join(out, 'windows', 'package.json'), '{ "name": "smc-consumer-windows", "private": true }\n');
    if (run('tar', ['xzf', tarball, '-C', win, '--strip-components=1']) !== 0 || !ensureNode() || !ensurePrefix()) return false;
    windowsReady = path.join(out, 'windows');
  }

  const dir = path.join(root, 'test/package');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).map((f) => path.join(dir, f));
  return run(process.execPath, ['--test', '--test-concurrency=1', ...files], {
    env: { ...process.env, SMC_PACKAGE_OUT: out, SMC_TARBALL: tarball, SMC_HIDDEN_PATH: hidden, SMC_WINDOWS_CONSUMER: windowsReady, SMC_WIN_NODE: nodeExe, SMC_WINEPREFIX: wineEnv.WINEPREFIX },
  }) === 0;
}
