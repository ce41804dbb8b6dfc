// Where the native binaries come from, decided once: SMC_ADDON_PATH, then a local build
// (build/release: the repository's own, or the install-time source build), then the
// prebuilt binary for this platform (prebuilds/<platform>-<arch>/, node-gyp-build's
// layout and file tags). Node / Electron only. The install script (scripts/install.mjs)
// asks the same questions through this module, so install and run time never disagree.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What `npm run prebuild` writes beside the binaries (prebuild.json). */
export interface PrebuildManifest {
  platform: string;
  arch: string;
  /** Linux: the C library the binaries link against, and the oldest version they run on. */
  libc?: 'glibc';
  glibc?: string;
  napi: number;
  /** File names, relative to the manifest's directory. */
  addon: string;
  plugins: string[];
}

export interface Prebuild {
  dir: string;
  addon: string;
  pluginDir: string;
  manifest: PrebuildManifest;
}

/** Why no prebuild was taken: a sentence for error messages and the install log. */
export type PrebuildChoice = { prebuild: Prebuild } | { prebuild: null; reason: string };

export interface HostFacts {
  platform: string;
  arch: string;
  /** glibc version of this process ('2.36'), or null: not glibc (musl) or not Linux. */
  glibc: string | null;
}

export function hostFacts(): HostFacts {
  let glibc: string | null = null;
  if (process.platform === 'linux') {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    glibc = report?.header?.glibcVersionRuntime ?? null;
  }
  return { platform: process.platform, arch: process.arch, glibc };
}

export const PACKAGE_NAME = 'shared-memory-channel';
export const REBUILD_COMMAND = `npm rebuild ${PACKAGE_NAME}`;

/** The installed package's root (the directory of its package.json), from a file inside it. */
export function packageRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`${PACKAGE_NAME}: cannot find its own package.json above ${start}`);
    dir = up;
  }
}

function versionAtLeast(have: string, need: string): boolean {
  const h = have.split('.').map(Number);
  const n = need.split('.').map(Number);
  for (let i = 0; i < Math.max(h.length, n.length); i++) {
    const a = h[i] ?? 0;
    const b = n[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The prebuild for `host` in the package at `root`, or the reason there is none. */
export function selectPrebuild(root: string, host: HostFacts = hostFacts()): PrebuildChoice {
  const tag = `${host.platform}-${host.arch}`;
  if (process.env.SMC_IGNORE_PREBUILDS) return { prebuild: null, reason: 'SMC_IGNORE_PREBUILDS is set' };
  const dir = path.join(root, 'prebuilds', tag);
  const manifestPath = path.join(dir, 'prebuild.json');
  if (!fs.existsSync(manifestPath)) {
    const have = fs.existsSync(path.join(root, 'prebuilds')) ? fs.readdirSync(path.join(root, 'prebuilds')) : [];
    return { prebuild: null, reason: `no prebuilt binary for ${tag} (the package has: ${have.length ? have.join(', ') : 'none'})` };
  }
  let manifest: PrebuildManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as PrebuildManifest;
  } catch (e) {
    return { prebuild: null, reason: `${manifestPath} is unreadable: ${(e as Error).message}` };
  }
  if (manifest.libc === 'glibc') {
    if (host.glibc === null) {
      return { prebuild: null, reason: `the ${tag} prebuild needs glibc >= ${manifest.glibc}, and this system's C library is not glibc (musl?)` };
    }
    if (manifest.glibc && !versionAtLeast(host.glibc, manifest.glibc)) {
      return { prebuild: null, reason: `the ${tag} prebuild needs glibc >= ${manifest.glibc}, and this system has glibc ${host.glibc}` };
    }
  }
  const addon = path.join(dir, manifest.addon);
  if (!fs.existsSync(addon)) return { prebuild: null, reason: `the ${tag} prebuild lacks its addon ${addon}` };
  return { prebuild: { dir, addon, pluginDir: path.join(dir, 'plugins'), manifest } };
}

/** The local build's directory (the repository's build, or the install-time source build). */
export function localBuildDir(root: string): string {
  return path.join(root, 'build', 'release');
}
