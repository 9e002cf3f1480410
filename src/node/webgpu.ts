import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** SwiftShader's Vulkan driver as shipped by Debian's chromium package: WebGPU without a GPU. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

type DawnModule = { create: (flags: string[]) => GPU; globals: object };

let cached: Promise<GPU | undefined> | undefined;

/**
 * The Node equivalent of navigator.gpu, from the `webgpu` package (Dawn); undefined when the package
 * cannot load. When the system's Vulkan drivers give Dawn no adapter (no GPU, or drivers Dawn refuses,
 * such as Mesa's lavapipe) and the user has not chosen a driver, it falls back to SwiftShader where
 * that is installed, so the same WGSL runs on machines without a GPU (tests, CI).
 *
 * A Vulkan setup that gives no adapter makes the loader and Dawn print warnings on stderr from native
 * code ("vkCreateInstance: Found no drivers!", a C++ source location), past anything we can catch, and
 * Node cannot redirect fd 2 around a call. So which drivers work is first asked of a short-lived child
 * process whose stderr is dropped; Dawn is created in this process only with a setup that has an adapter.
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
    const userChoseDriver = Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES);
    const fallback = userChoseDriver || !existsSync(SWIFTSHADER_ICD) ? undefined : SWIFTSHADER_ICD;
    const found = await probeDrivers(fallback);
    if (found === 'none') return GPU_WITHOUT_ADAPTERS;
    if (found === 'fallback') process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    if (found !== 'unknown') return dawn.create([]);
    // The probe itself failed (cannot spawn, timed out): find out here, at the price of the warnings.
    const gpu = dawn.create([]);
    if (!fallback || (await hasAdapter(gpu))) return gpu;
    // The Vulkan loader reads the variable when an instance is created: a new instance sees SwiftShader.
    process.env.VK_ICD_FILENAMES = fallback;
    return dawn.create([]);
  })();
  return cached;
}

/** navigator.gpu where no adapter exists: requestAdapter answers null, as a browser's does. */
const GPU_WITHOUT_ADAPTERS = {
  requestAdapter: () => Promise.resolve(null),
  getPreferredCanvasFormat: () => 'bgra8unorm',
  wgslLanguageFeatures: new Set<string>(),
} as unknown as GPU;

/**
 * Which Vulkan setup gives Dawn an adapter, asked in a child process with this one's environment:
 * 'system' (as the environment is), 'fallback' (with VK_ICD_FILENAMES set to `fallback`), 'none', or
 * 'unknown' when the child could not tell.
 */
function probeDrivers(fallback: string | undefined): Promise<'system' | 'fallback' | 'none' | 'unknown'> {
  let dawnUrl: string;
  try {
    dawnUrl = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return Promise.resolve('unknown');
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE, dawnUrl, fallback ?? ''], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000, // Dawn loads in well under a second; this is for a machine under heavy load
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolve('unknown'));
    child.on('close', () => {
      const answer = out.trim();
      resolve(answer === 'system' || answer === 'fallback' || answer === 'none' ? answer : 'unknown');
    });
  });
}

/** The child's script: arguments are the `webgpu` module's URL and the fallback driver (or ''). */
const PROBE = `
const [dawnUrl, fallback] = process.argv.slice(1);
const { create } = await import(dawnUrl);
const found = async () => { try { return (await create([]).requestAdapter()) !== null; } catch { return false; } };
let answer = 'none';
if (await found()) answer = 'system';
else if (fallback) { process.env.VK_ICD_FILENAMES = fallback; if (await found()) answer = 'fallback'; }
process.stdout.write(answer + '\\n', () => process.exit(0));
`;

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
