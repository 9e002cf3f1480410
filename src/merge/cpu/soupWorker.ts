/** Web-worker entry of the CPU soup backend in the browser. */
import { handleSoupRequest, type SoupWorkerRequest } from './protocol';

const scope = self as unknown as { onmessage: ((e: MessageEvent<SoupWorkerRequest>) => void) | null; postMessage(msg: unknown, transfer: Transferable[]): void };
scope.onmessage = (e) => {
  const { response, transfer } = handleSoupRequest(e.data);
  scope.postMessage(response, transfer);
};
