// A static server for the demo page (no dependencies): / is this folder, /ple/ the web package
// (platforms/web/build.sh), /models/ the models and requests (platforms/web/test/make_fixtures.sh).
//   node examples/web/serve.mjs [--port 8080] [--package build-web/package] [--models build-web/fixtures]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.ple': 'application/octet-stream',
  '.jsonl': 'application/x-ndjson', '.csv': 'text/csv' };

/** Serves `roots` ({'/ple/': dir, '/models/': dir, '/': dir}) on 127.0.0.1; resolves to the server.
 * options.headers: sent with every file (e.g. cross-origin isolation for finer browser clocks);
 * options.post(path, body): called with each POST request's path and body text. */
export function serve(roots, port = 0, options = {}) {
  const prefixes = Object.keys(roots).sort((a, b) => b.length - a.length);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    if (req.method === 'POST' && options.post) {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        res.writeHead(204).end();
        options.post(path, body);
      });
      return;
    }
    const prefix = prefixes.find((p) => path.startsWith(p));
    const relative = normalize(path.slice(prefix.length) || 'index.html');
    if (relative.startsWith('..')) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(join(roots[prefix], relative));
      res.writeHead(200, { 'content-type': TYPES[extname(relative)] ?? 'application/octet-stream', ...options.headers })
        .end(body);
    } catch {
      res.writeHead(404).end(`not found: ${path}`);
    }
  });
  return new Promise((done) => server.listen(port, '127.0.0.1', () => done(server)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const option = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const repo = join(here, '..', '..');
  const server = await serve({
    '/ple/': resolve(option('package', join(repo, 'build-web', 'package'))),
    '/models/': resolve(option('models', join(repo, 'build-web', 'fixtures'))),
    '/': here,
  }, Number(option('port', 8080)));
  console.log(`demo: http://127.0.0.1:${server.address().port}/`);
}
