/**
 * Why a search stopped, in one sentence for people: the failure as the engine words it, and — when
 * finished points are stored — that they are kept and the search resumes from them. A lost GPU device
 * (a driver reset, a GPU removed) names the way on without it.
 */
import { DeviceLostError, GPUExecutionError } from '../../gpu/errors';
import { failureMessage } from '../evalWorker/host';

export function searchStopMessage(e: unknown, kept: number): string {
  const why = failureMessage(e).replace(/\.$/, '');
  const gpu = e instanceof DeviceLostError || e instanceof GPUExecutionError;
  const then = gpu ? 'start it again to resume (on the CPU, in Run on, if the GPU does not come back)' : 'start it again to resume';
  if (kept === 0) return gpu ? `The search stopped: ${why}; nothing was evaluated yet: ${then.replace(' to resume', '')}.` : `The search stopped: ${why}.`;
  return `The search stopped: ${why}; its ${kept} finished point${kept === 1 ? ' is' : 's are'} kept: ${then}.`;
}
