/** Web-worker entry of the CPU soup backend in the browser. */
import { handleSoupRequest, type SoupWorkerRequest } from './protocol';
import { simdAvailable } from './simdKernel';

const scope = self as unknown as { onmessage: ((e: MessageEvent<SoupWorkerRequest>) => void) | null; postMessage(msg: unknown, transfer: Transferable[]): void };
// The SIMD module is assembled and compiled now, while the worker waits for its first job: a worker
// started ahead (the studio's prepared merge) then answers that job at full speed.
simdAvailable();

scope.onmessage = (e) => {
  const { response, transfer } = handleSoupRequest(e.data);
  scope.postMessage(response, transfer);
};
