import { existsSync } from 'node:fs';

/** SwiftShader's Vulkan driver as shipped by Debian's chromium package: WebGPU without a GPU. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let cached: Promise<GPU | undefined> | undefined;

/**
 * The Node equivalent of navigator.gpu, from the `webgpu` package (Dawn). Undefined when the package
 * cannot load. With no Vulkan driver configured, falls back to SwiftShader where it is installed, so
 * the same WGSL runs on machines without a GPU (tests, CI).
 */
export function nodeGPU(): Promise<GPU | undefined> {
  cached ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasSystemVulkanDriver() && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    try {
      const webgpu = (await import('webgpu')) as { create: (flags: string[]) => GPU; globals: object };
      Object.assign(globalThis, webgpu.globals);
      return webgpu.create([]);
    } catch {
      return undefined;
    }
  })();
  return cached;
}

function hasSystemVulkanDriver(): boolean {
  return ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some((dir) => existsSync(dir));
}
