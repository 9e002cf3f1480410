import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig, type HtmlTagDescriptor, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The studio. The CLI and benchmarks are built by vite.cli.config.ts.
// Cross-origin isolation lets the merge share memory with its CPU workers (SharedArrayBuffer): no
// copies between threads. The dev and preview servers send the two headers; a static host that does
// not (GitHub Pages) gets them from coi-serviceworker (below), and where no service worker may run the
// studio still merges, copying between threads.
const crossOriginIsolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/**
 * Files the studio ships that are not part of the bundle: served by the dev server at <base><dir><name>
 * and emitted into the build there, so that both find them at the same URL. `html` adds tags to
 * index.html (given the base path, known once the config is resolved).
 */
function shippedFiles(
  name: string,
  files: { dir: string; names(): string[]; read(name: string): string; contentType: string; html?(base: string): HtmlTagDescriptor[] },
): Plugin {
  let base = '/';
  return {
    name,
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use(`${base}${files.dir}`, (req, res, next) => {
        const file = decodeURIComponent((req.url ?? '').split(/[?#]/)[0].replace(/^\//, ''));
        if (!files.names().includes(file)) return next();
        res.setHeader('Content-Type', files.contentType);
        res.end(files.read(file));
      });
    },
    generateBundle() {
      for (const file of files.names()) this.emitFile({ type: 'asset', fileName: `${files.dir}${file}`, source: files.read(file) });
    },
    transformIndexHtml() {
      return files.html?.(base) ?? [];
    },
  };
}

/**
 * coi-serviceworker.js (npm coi-serviceworker) at the base path, loaded first in index.html. On a page
 * that is not cross-origin isolated it registers itself as a service worker that adds COOP/COEP to
 * every response from this origin, and reloads the page once; on an isolated page (a host that sends
 * the headers) it does nothing.
 */
function coiServiceWorker(): Plugin {
  const FILE = 'coi-serviceworker.js';
  return shippedFiles('souplab-coi-serviceworker', {
    dir: '',
    names: () => [FILE],
    read: () => readFileSync(createRequire(import.meta.url).resolve(`coi-serviceworker/${FILE}`), 'utf8'),
    contentType: 'text/javascript',
    // A classic script: it runs before the (deferred) module scripts and reads its own URL.
    html: (base) => [{ tag: 'script', attrs: { src: `${base}${FILE}` }, injectTo: 'head' }],
  });
}

/**
 * docs/*.md at <base>docs/, where the studio's help links point (src/ui/components/docsLink.ts), as text
 * every browser shows. Each starts with a UTF-8 byte order mark: a static host sends .md without a
 * charset (vite preview: text/markdown), and the browser would read τ and ρ as Windows-1252; the mark
 * decides the encoding whatever the headers say.
 */
function souplabDocs(): Plugin {
  const DIR = new URL('./docs/', import.meta.url);
  return shippedFiles('souplab-docs', {
    dir: 'docs/',
    names: () => readdirSync(DIR).filter((f) => /^[\w-]+\.md$/.test(f)),
    read: (name) => `\uFEFF${readFileSync(new URL(name, DIR), 'utf8')}`,
    contentType: 'text/plain; charset=utf-8',
  });
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
