// A PATH on which everything of the current PATH is found except the build tools a
// consumer without a compiler lacks: cmake, ninja and every C/C++ compiler driver.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';

export const HIDDEN = /^(cmake|ctest|ninja|cc|c\+\+|gcc|g\+\+|clang|clang\+\+|cpp)(-[\d.]+)?$|^(x86_64|i686|aarch64)-[\w-]+-(gcc|g\+\+|c\+\+|cc|cpp)(-[\w.]+)?$/;

/** Fills `dir` with symlinks to every program on PATH except the hidden ones; returns it. */
export function hiddenCompilersPath(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!entry || !existsSync(entry)) continue;
    let names;
    try {
      names = readdirSync(entry);
    } catch {
      continue;
    }
    for (const name of names) {
      if (HIDDEN.test(name) || existsSync(path.join(dir, name))) continue;
      symlinkSync(path.join(entry, name), path.join(dir, name));
    }
  }
  return dir;
}
