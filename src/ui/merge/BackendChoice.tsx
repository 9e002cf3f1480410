import { browserCpuWorkers } from '../../merge/cpu/browserSpawner';
import { formatBytes } from '../../util/bytes';
import { BackendSelect } from '../components/BackendSelect';
import { useGpuStore } from '../state/gpuStore';
import { useMergeStore } from '../state/mergeStore';
import type { BackendChoice as Choice } from './protocol';


/** The backend a merge will use, or is using, and why. */
export function useBackendChoice(): { choice: Choice; line: string; available: boolean } {
  const gpu = useGpuStore((s) => s.gpu);
  const chosen = useMergeStore((s) => s.backend);
  const available = gpu.status === 'ready';
  // A software WebGPU (SwiftShader, llvmpipe) is slower than the CPU backend: not the default, as in `souplab merge`.
  const software = gpu.status === 'ready' && gpu.adapter.software;
  const choice: Choice = chosen ?? (available && !software ? 'webgpu' : 'cpu');
  let line: string;
  if (choice === 'webgpu' && gpu.status === 'ready') {
    const a = gpu.adapter;
    line = `WebGPU on ${a.name}${a.software ? ' (a software renderer: correct, but slower than the CPU path)' : a.isFallback ? ' (fallback adapter)' : ''}: buffers up to ${formatBytes(a.maxBufferSize)}, bindings up to ${formatBytes(a.maxStorageBufferBindingSize)}, ${a.maxComputeWorkgroupsPerDimension.toLocaleString('en')} workgroups per dimension${a.features.includes('shader-f16') ? ', shader-f16' : ''}`;
  } else if (choice === 'webgpu') {
    line = gpu.status === 'unavailable' ? `WebGPU is not available: ${gpu.reason}` : 'WebGPU: looking for an adapter…';
  } else {
    const workers = browserCpuWorkers();
    const why =
      gpu.status === 'unavailable'
        ? gpu.reason.replace(/: the CPU path will be used$/, '')
        : software && chosen === null
          ? `the WebGPU adapter, ${gpu.adapter.name}, is a software renderer and slower; choose WebGPU to use it anyway`
          : 'chosen here';
    line = `CPU: ${workers} web worker${workers > 1 ? 's' : ''}, the same arithmetic as the GPU kernel (${why})`;
  }
  return { choice, line, available };
}

export function BackendChoice({ disabled }: { disabled: boolean }) {
  const { choice, line, available } = useBackendChoice();
  const setBackend = useMergeStore((s) => s.setBackend);
  const running = useMergeStore((s) => s.backendDescription);
  const phase = useMergeStore((s) => s.phase);
  return (
    <BackendSelect
      choice={choice}
      line={phase === 'running' && running ? `Merging on ${running}` : line}
      available={available}
      disabled={disabled}
      cpuLabel="CPU (web workers)"
      onChange={setBackend}
    />
  );
}
