#!/usr/bin/env node
// Runs @doyensec/electronegativity (a static checker of Electron security settings) over
// the Electron main and preload sources (app/electron/*.ts) and holds its findings to the
// answers in docs/electron.md ("Electronegativity findings"): every finding above
// INFORMATIONAL must have a row there with its check, severity and file, and every row must
// still be found (an answer to a finding that went away is stale). Exit 1 otherwise.
// Offline, the tool's one network lookup (Electron release notes, for its
// AVAILABLE_SECURITY_FIXES check) fails and it goes on without it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = path.join(root, 'build/electronegativity');
const input = path.join(work, 'input');
const csvFile = path.join(work, 'findings.csv');
const docsFile = path.join(root, 'docs/electron.md');

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

/** The Electron version the app declares (app/package.json), e.g. '45.5.0'. */
function electronVersion() {
  const pkg = JSON.parse(readFileSync(path.join(root, 'app/package.json'), 'utf8'));
  const range = pkg.optionalDependencies?.electron ?? pkg.dependencies?.electron ?? pkg.devDependencies?.electron;
  const m = /(\d+\.\d+\.\d+)/.exec(range ?? '');
  if (!m) throw new Error(`app/package.json declares no electron version (found ${JSON.stringify(range)})`);
  return m[1];
}

/** Rows of the findings table in docs/electron.md: | CHECK | SEVERITY | file | answer |. */
function documentedFindings() {
  const md = readFileSync(docsFile, 'utf8');
  const start = md.indexOf('## Electronegativity findings');
  if (start < 0) {
    console.log(`  (${path.relative(root, docsFile)} has no '## Electronegativity findings' section)`);
    return [];
  }
  const section = md.slice(start).split(/\n## /)[0];
  return section
    .split('\n')
    .filter((l) => /^\|\s*`?[A-Z_]+_CHECK`?\s*\|/.test(l))
    .map((l) => {
      const [check, severity, file] = l.split('|').slice(1).map((c) => c.trim().replace(/`/g, ''));
      return { check, severity, file: file.split(/[\s,:]/)[0] };
    });
}

function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(input, { recursive: true });
  // The sources only: the compiled dist/ would report every finding twice.
  const dir = path.join(root, 'app/electron');
  for (const f of readdirSync(dir)) if (f.endsWith('.ts')) copyFileSync(path.join(dir, f), path.join(input, f));
  const tool = path.join(root, 'node_modules/@doyensec/electronegativity/dist/index.js');
  const version = electronVersion();
  console.log(`electronegativity: app/electron/*.ts, Electron ${version}`);
  const r = spawnSync(process.execPath, [tool, '-i', input, '-r', '-v', 'false', '-e', version, '-o', csvFile], { encoding: 'utf8', cwd: work });
  if (r.status !== 0) {
    console.error(`FAIL electronegativity exited ${r.status ?? r.error?.message}\n${r.stdout}\n${r.stderr}`);
    return 1;
  }
  const [header, ...rows] = parseCsv(readFileSync(csvFile, 'utf8')).filter((row) => row.length > 1);
  const col = (name) => header.findIndex((h) => h.trim() === name);
  const findings = rows.map((row) => ({
    check: row[col('issue')],
    severity: row[col('severity')],
    file: row[col('filename')],
    location: row[col('location')],
    sample: row[col('sample')].replace(/\s+/g, ' ').slice(0, 60),
    description: row[col('description')],
  }));
  const relevant = findings.filter((f) => f.severity !== 'INFORMATIONAL');
  const documented = documentedFindings();
  const key = (f) => `${f.check} ${f.severity} ${f.file}`;
  const left = documented.map(key);
  let ok = true;
  for (const f of findings) {
    const i = f.severity === 'INFORMATIONAL' ? -2 : left.indexOf(key(f));
    if (i >= 0) left.splice(i, 1);
    const verdict = i === -2 ? 'info' : i >= 0 ? 'answered' : 'UNANSWERED';
    if (i === -1) ok = false;
    console.log(`  ${verdict.padEnd(10)} ${f.check} ${f.severity} ${f.file}:${f.location} ${f.sample} (${f.description})`);
  }
  for (const stale of left) {
    ok = false;
    console.log(`  STALE      ${stale}: answered in docs/electron.md but no longer reported`);
  }
  console.log(
    `${ok ? 'PASS' : 'FAIL'} electronegativity: ${findings.length} findings, ${relevant.length} above informational; ` +
      (ok ? 'each answered in docs/electron.md ("Electronegativity findings")' : 'answer each in docs/electron.md ("Electronegativity findings") or fix it'),
  );
  return ok ? 0 : 1;
}

process.exit(main());
