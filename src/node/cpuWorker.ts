/** Worker-thread entry of the CPU soup backend (bundled to dist/node/cpuWorker.js). */
import { parentPort } from 'node:worker_threads';
import { handleSoupRequest, type SoupWorkerRequest } from '../merge/cpu/protocol';

if (!parentPort) throw new Error('cpuWorker.js runs as a worker thread of the souplab CLI');
const port = parentPort;
port.on('message', (req: SoupWorkerRequest) => {
  const { response, transfer } = handleSoupRequest(req);
  port.postMessage(response, transfer);
});
