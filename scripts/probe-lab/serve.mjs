// Tiny static server for the probe lab. /iso/<file> is served with COOP+COEP (a
// cross-origin-isolated page: SharedArrayBuffer, Atomics.waitAsync), /plain/<file>
// without (the fallback a file:// or plainly served page gets).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript' };

export function serve(port = 0) {
  const server = http.createServer(async (req, res) => {
    const m = req.url.match(/^\/(iso|plain)\/([\w.-]+)$/);
    if (!m) { res.writeHead(404).end(); return; }
    try {
      const body = await readFile(path.join(dir, m[2]));
      const headers = { 'Content-Type': types[path.extname(m[2])] || 'application/octet-stream', 'Cache-Control': 'no-store' };
      if (m[1] === 'iso') {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
        headers['Cross-Origin-Resource-Policy'] = 'same-origin';
      }
      res.writeHead(200, headers).end(body);
    } catch { res.writeHead(404).end(); }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await serve(Number(process.argv[2] || 8377));
  console.log(`${s.url}/iso/lab.html  (isolated)   ${s.url}/plain/lab.html  (not)`);
}
