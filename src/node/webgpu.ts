import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** SwiftShader's Vulkan driver as shipped by Debian's chromium package: WebGPU without a GPU. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

type DawnModule = { create: (flags: string[]) => GPU; globals: object };

let cached: Promise<GPU | undefined> | undefined;

/**
 * The Node equivalent of navigator.gpu, from the `webgpu` package (Dawn); undefined when the package
 * cannot load. When the system's Vulkan drivers give Dawn no adapter (no GPU, or drivers Dawn refuses,
 * such as Mesa's lavapipe) and the user has not chosen a driver, it falls back to SwiftShader where
 * that is installed, so the same WGSL runs on machines without a GPU (tests, CI).
 */
export function nodeGPU(): Promise<GPU | undefined> {
  cached ??= (async () => {
    let dawn: DawnModule;
    try {
      dawn = (await import('webgpu')) as DawnModule;
    } catch {
      return undefined;
    }
    Object.assign(globalThis, dawn.globals);
    // Vulkan drivers complain on stderr (from native code, past our own output) when this is unset.
    process.env.XDG_RUNTIME_DIR ??= privateRuntimeDir();
    const gpu = dawn.create([]);
    const userChoseDriver = Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES);
    if (userChoseDriver || !existsSync(SWIFTSHADER_ICD) || (await hasAdapter(gpu))) return gpu;
    // The Vulkan loader reads the variable when an instance is created: a new instance sees SwiftShader.
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    return dawn.create([]);
  })();
  return cached;
}

async function hasAdapter(gpu: GPU): Promise<boolean> {
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** One private folder per user, reused across runs (the variable must name a 0700 folder). */
function privateRuntimeDir(): string {
  const dir = join(tmpdir(), `souplab-runtime-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** False only on Linux when no device node a GPU driver would use exists. */
export function mayHaveGpuDevice(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, pattern: RegExp) => {
    try {
      return readdirSync(dir).some((f) => pattern.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev/dri', /^renderD\d+$/) || has('/dev', /^(nvidia\d+|dxg)$/);
}
