import { test, expect } from '@playwright/test';
import { formatBytes } from '../src/util/bytes';
import { browserAdapter } from './adapter';

test('the page loads and names the WebGPU adapter it found', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'SoupLab' })).toBeVisible();
  const backend = page.getByRole('status');
  // Whatever adapter this browser gives (SwiftShader here, a real GPU elsewhere): the studio names it
  // and its limits, or says why it runs on the CPU when there is none.
  const adapter = await browserAdapter(page);
  if (adapter) {
    await expect(backend).toContainText(`Backend: WebGPU on ${adapter.name}`, { timeout: 30_000 });
    await expect(backend).toContainText(`buffers up to ${formatBytes(adapter.maxBufferSize)}`);
  } else {
    await expect(backend).toContainText('Backend: CPU', { timeout: 30_000 });
  }
  await page.screenshot({ path: testInfo.outputPath('skeleton.png') });
});
