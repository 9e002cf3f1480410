import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The studio. The CLI and benchmarks are built by vite.cli.config.ts.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist/app', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { port: 5173 },
  preview: { port: 4173 },
});
