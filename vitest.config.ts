import { defineConfig } from 'vitest/config';
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Dawn (the `webgpu` package) finds SwiftShader's Vulkan driver here when no GPU is present.
    env: existsSync(swiftshader) && !process.env.VK_ICD_FILENAMES ? { VK_ICD_FILENAMES: swiftshader } : {},
  },
});
