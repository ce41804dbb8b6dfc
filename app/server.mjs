#!/usr/bin/env node
// Serves the built dashboard (app/dist) on 127.0.0.1 with the two headers that make a
// page cross-origin isolated (COOP same-origin + COEP require-corp): without them a
// browser offers no SharedArrayBuffer at all. PORT picks the port (default 8420; 0 = any
// free port). Prints the URL on its own line, then serves until interrupted.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.map': 'application/json', '.wasm': 'application/wasm',
};

export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function startServer({ root = path.join(here, 'dist'), port = 8420, host = '127.0.0.1' } = {}) {
  if (!existsSync(path.join(root, 'index.html'))) {
    throw new Error(`nothing to serve: ${root}/index.html is missing (run 'npm run app:build')`);
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
    if (!file.startsWith(root)) {
      res.writeHead(403, isolationHeaders).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file)) file = path.join(root, 'index.html'); // single-page app
    res.writeHead(200, {
      ...isolationHeaders,
      'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({ server, url: `http://${host}:${addr.port}/` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = process.env.PORT === undefined ? 8420 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer from 0 to 65535, not '${process.env.PORT}'`);
    process.exit(2);
  }
  startServer({ port }).then(
    ({ url }) => {
      console.log('SharedMemoryChannel dashboard (browser harness: a Web Worker plays the native side):');
      console.log(url);
    },
    (e) => {
      console.error(`server: ${e.message}`);
      process.exit(1);
    },
  );
}
