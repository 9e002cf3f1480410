import { defineConfig } from 'vite';

// Node entry points (the `souplab` command, worker threads, benchmarks), bundled so that
// `?raw` shader imports resolve the same way as in the studio. Dependencies stay external, but yaml.
export default defineConfig({
  publicDir: false,
  // yaml ships as ~80 CommonJS files: resolving and wrapping each cost every `souplab` start ~50 ms of
  // CPU (perf stat, merge --help); bundled, it is one chunk.
  ssr: { noExternal: ['yaml'] },
  build: {
    ssr: true,
    outDir: 'dist/node',
    emptyOutDir: true,
    target: 'node20',
    sourcemap: true,
    rollupOptions: {
      input: {
        cli: 'src/cli/main.ts',
        bench: 'bench/index.ts',
        cpuWorker: 'src/node/cpuWorker.ts',
        makeDemoCheckpoints: 'scripts/makeDemoCheckpoints.ts',
        writeTinyModel: 'scripts/writeTinyModel.ts',
      },
      output: { entryFileNames: '[name].js', format: 'es' },
    },
  },
});
