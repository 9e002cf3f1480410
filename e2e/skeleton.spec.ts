import { test, expect } from '@playwright/test';

test('the page loads and names the WebGPU adapter it found', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'SoupLab' })).toBeVisible();
  const backend = page.getByRole('status');
  await expect(backend).toContainText('Backend: WebGPU on', { timeout: 30_000 });
  // Debian's Chromium brings SwiftShader: a real adapter, software-rendered.
  await expect(backend).toContainText(/swiftshader|google/i);
  await page.screenshot({ path: testInfo.outputPath('skeleton.png') });
});
