import { defineConfig } from '@playwright/test';

// Ports are ours alone: a server already on them is an error (strictPort, no reuse), never silently
// tested. SOUPLAB_E2E_PORT moves both (preview on it, dev server on it + 1) for parallel checkouts.
const previewPort = Number(process.env.SOUPLAB_E2E_PORT ?? 4173);
const devPort = previewPort + 1;
process.env.SOUPLAB_E2E_DEV_URL = `http://localhost:${devPort}`;

// Debian's Chromium with SwiftShader gives a real WebGPU adapter without a GPU (see README).
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${previewPort}`,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    },
  },
  webServer: [
    {
      command: `npx vite preview --port ${previewPort} --strictPort`,
      url: `http://localhost:${previewPort}`,
      reuseExistingServer: false,
      timeout: 60_000,
    },
    {
      // The dev server serves the engine's TypeScript modules, so specs can import them into a page
      // (e2e/engine-webgpu.spec.ts runs the WebGPU kernels in Chromium this way).
      command: `npx vite --port ${devPort} --strictPort`,
      url: `http://localhost:${devPort}`,
      reuseExistingServer: false,
      timeout: 60_000,
    },
  ],
});
