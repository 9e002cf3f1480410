import { useMemo } from 'react';
import { gpuCoverageKind, methodGpuCoverage } from '../../../merge/program/gpuCoverage';
import { DocsLink } from '../../components/DocsLink';

/**
 * What of the method runs on WebGPU and what on the CPU of the merge worker, as the method's own
 * program says (merge/program/gpuCoverage.ts). A method without GPU kernels still merges on a WebGPU choice, with
 * the same results: said here rather than failing.
 */
export function GpuNote({ method }: { method: string }) {
  const c = useMemo(() => methodGpuCoverage(method), [method]);
  const gpu = [...(c.gpuPasses.length > 0 ? [`${c.gpuPasses.length} statistics pass${c.gpuPasses.length > 1 ? 'es' : ''} (${c.gpuPasses.join(', ')})`] : []), ...(c.elementsOnGpu ? ['the element pass'] : [])];
  const cpu = [...(c.cpuPasses.length > 0 ? [`${c.cpuPasses.join(', ')}`] : []), ...(c.elementsOnGpu ? [] : ['the element pass'])];
  const kind = gpuCoverageKind(c);
  let text: string;
  if (kind === 'none') text = `${method} has no WebGPU kernels yet: on WebGPU its arithmetic runs on the CPU inside the merge worker, with the same results.`;
  else if (kind === 'all') text = `On WebGPU, ${gpu.join(' and ')} ${gpu.length > 1 ? 'run' : 'runs'} on the GPU.`;
  else text = `On WebGPU, ${gpu.join(' and ')} ${gpu.length > 1 ? 'run' : 'runs'} on the GPU; ${cpu.join(', ')} on the CPU inside the merge worker (same results).`;
  return (
    <p className="muted small gpu-note" data-testid="gpu-note" data-gpu={kind}>
      {text}{' '}
      <DocsLink page="merge-engine.md" anchor="gpu-kernels-and-their-cpu-twins">
        How the kernels match the CPU
      </DocsLink>
    </p>
  );
}
