import { useEffect } from 'react';
import { formatBytes } from '../util/bytes';
import { useGpuStore } from './state/gpuStore';


/** Which WebGPU adapter the merge will run on, or why it will run on the CPU. */
export function BackendLine() {
  const gpu = useGpuStore((s) => s.gpu);
  const probe = useGpuStore((s) => s.probe);
  useEffect(() => {
    void probe();
  }, [probe]);

  if (gpu.status === 'probing') return <p role="status">Looking for a WebGPU adapter…</p>;
  if (gpu.status === 'unavailable') {
    return (
      <p role="status" data-backend="cpu">
        Backend: CPU. {gpu.reason}
      </p>
    );
  }
  const a = gpu.adapter;
  return (
    <p role="status" data-backend="webgpu">
      Backend: WebGPU on <strong>{a.name}</strong>
      {a.isFallback ? ' (software fallback)' : ''} — buffers up to {formatBytes(a.maxBufferSize)},
      bindings up to {formatBytes(a.maxStorageBufferBindingSize)}
    </p>
  );
}
