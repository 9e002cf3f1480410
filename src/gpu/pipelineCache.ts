/**
 * Compute pipelines built once per (shader, entry point, override constants) and reused: creating
 * one compiles the shader for the device, which takes milliseconds to seconds.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  /** `code` may be a function, called only when the label's module is not cached yet. */
  get(label: string, code: string | (() => string), constants: Record<string, number> = {}, entryPoint = 'main'): GPUComputePipeline {
    const key = `${label}|${entryPoint}|${Object.entries(constants).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(label);
      if (!module) {
        module = this.device.createShaderModule({ label, code: typeof code === 'string' ? code : code() });
        this.modules.set(label, module);
      }
      p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
