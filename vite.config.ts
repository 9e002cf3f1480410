import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The studio. The CLI and benchmarks are built by vite.cli.config.ts.
// Cross-origin isolation lets the merge share memory with its CPU workers (SharedArrayBuffer): no
// copies between threads. The dev and preview servers send the two headers; a static host that does
// not (GitHub Pages) gets them from coi-serviceworker (below), and where no service worker may run the
// studio still merges, copying between threads.
const crossOriginIsolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/**
 * Serves and emits coi-serviceworker.js (npm coi-serviceworker) at the base path and loads it first in
 * index.html. On a page that is not cross-origin isolated it registers itself as a service worker that
 * adds COOP/COEP to every response from this origin, and reloads the page once; on an isolated page
 * (a host that sends the headers) it does nothing.
 */
function coiServiceWorker(): Plugin {
  const FILE = 'coi-serviceworker.js';
  const source = () => readFileSync(createRequire(import.meta.url).resolve(`coi-serviceworker/${FILE}`), 'utf8');
  let base = '/';
  return {
    name: 'souplab-coi-serviceworker',
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use(`${base}${FILE}`, (_req, res) => {
        res.setHeader('Content-Type', 'text/javascript');
        res.end(source());
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: FILE, source: source() });
    },
    transformIndexHtml() {
      // A classic script: it runs before the (deferred) module scripts and reads its own URL.
      return [{ tag: 'script', attrs: { src: `${base}${FILE}` }, injectTo: 'head' }];
    },
  };
}

/**
 * Ships docs/*.md with the studio at <base>docs/, where its help links point (src/ui/components/docsLink.ts):
 * served by the dev server, emitted into the build, as text every browser shows. Each starts with a UTF-8
 * byte order mark: a static host sends .md without a charset (vite preview: text/markdown), and the
 * browser would read τ and ρ as Windows-1252; the mark decides the encoding whatever the headers say.
 */
function souplabDocs(): Plugin {
  const DIR = new URL('./docs/', import.meta.url);
  const pages = () => readdirSync(DIR).filter((f) => /^[\w-]+\.md$/.test(f));
  const page = (name: string) => `\uFEFF${readFileSync(new URL(name, DIR), 'utf8')}`;
  let base = '/';
  return {
    name: 'souplab-docs',
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use(`${base}docs`, (req, res, next) => {
        const name = decodeURIComponent((req.url ?? '').split(/[?#]/)[0].replace(/^\//, ''));
        if (!pages().includes(name)) return next();
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(page(name));
      });
    },
    generateBundle() {
      for (const name of pages()) this.emitFile({ type: 'asset', fileName: `docs/${name}`, source: page(name) });
    },
  };
}

export default defineConfig({
  // A host serving the studio below its root (GitHub Pages: /<repository>/) sets SOUPLAB_BASE.
  base: process.env.SOUPLAB_BASE ?? '/',
  plugins: [react(), coiServiceWorker(), souplabDocs()],
  build: { outDir: 'dist/app', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { port: 5173, headers: crossOriginIsolation },
  preview: { port: 4173, headers: crossOriginIsolation },
});
