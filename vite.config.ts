import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The studio. The CLI and benchmarks are built by vite.cli.config.ts.
// Cross-origin isolation lets the merge share memory with its CPU workers (SharedArrayBuffer): no
// copies between threads. A host serving dist/app should send the same two headers; without them the
// studio still merges, copying between threads.
const crossOriginIsolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist/app', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { port: 5173, headers: crossOriginIsolation },
  preview: { port: 4173, headers: crossOriginIsolation },
});
