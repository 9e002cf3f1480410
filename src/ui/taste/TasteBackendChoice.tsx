import { BackendSelect } from '../components/BackendSelect';
import { useGpuStore } from '../state/gpuStore';
import { useTasteStore } from '../state/tasteStore';
import type { TasteBackend } from './protocol';

/** The backend Taste will use: WebGPU on a hardware adapter, else the CPU runtime (as `souplab eval` chooses). */
export function useTasteBackend(): { choice: TasteBackend; line: string; available: boolean } {
  const gpu = useGpuStore((s) => s.gpu);
  const chosen = useTasteStore((s) => s.backend);
  const available = gpu.status === 'ready';
  const software = gpu.status === 'ready' && gpu.adapter.software;
  const choice: TasteBackend = chosen === 'webgpu' && available ? 'webgpu' : chosen ?? (available && !software ? 'webgpu' : 'cpu');
  let line: string;
  if (choice === 'webgpu' && gpu.status === 'ready') {
    line = `WebGPU on ${gpu.adapter.name}${software ? ' (a software renderer: correct, but slower than the CPU runtime)' : ''}: the weights stay on the GPU`;
  } else {
    const why =
      gpu.status === 'unavailable'
        ? gpu.reason.replace(/: the CPU path will be used$/, '')
        : gpu.status === 'probing'
          ? 'looking for a WebGPU adapter'
          : software && chosen === null
            ? `the WebGPU adapter, ${gpu.adapter.name}, is a software renderer and slower; choose WebGPU to use it anyway`
            : 'chosen here';
    line = `CPU: the WebAssembly SIMD runtime in web workers (${why})`;
  }
  return { choice, line, available };
}

export function TasteBackendChoice({ disabled }: { disabled: boolean }) {
  const { choice, line, available } = useTasteBackend();
  const setBackend = useTasteStore((s) => s.setBackend);
  return <BackendSelect choice={choice} line={line} available={available} disabled={disabled} cpuLabel="CPU (web worker)" onChange={setBackend} />;
}
