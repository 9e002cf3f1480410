import type { Page } from '@playwright/test';

export interface BrowserAdapter {
  /** vendor / architecture / device / description, as the studio names an adapter. */
  name: string;
  parts: string[];
  /** A CPU implementation of WebGPU (SwiftShader, llvmpipe, the fallback adapter). */
  software: boolean;
  maxBufferSize: number;
}

/**
 * The adapter this browser gives, asked for directly (not through the studio), so that specs assert
 * what the studio shows for whichever adapter there is: SwiftShader here, a real GPU elsewhere.
 */
export async function browserAdapter(page: Page): Promise<BrowserAdapter | null> {
  return page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) return null;
    const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const parts = [...new Set([i.vendor, i.architecture, i.device, i.description].filter((s) => s))];
    const software = !!i.isFallbackAdapter || parts.some((p) => /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|microsoft basic render/i.test(p));
    return { name: parts.join(' / '), parts, software, maxBufferSize: a.limits.maxBufferSize };
  });
}
