/**
 * Worker-thread entry of the CPU backend (bundled to dist/node/cpuWorker.js): soup jobs (protocol.ts)
 * and method tensors (programProtocol.ts, inputs opened here by path).
 */
import { parentPort } from 'node:worker_threads';
import { handleSoupRequest, type SoupWorkerRequest } from '../merge/cpu/protocol';
import { programServer, type ProgramWorkerRequest } from '../merge/cpu/programProtocol';
import { nodeFileSource } from './fileSource';

if (!parentPort) throw new Error('cpuWorker.js runs as a worker thread of the souplab CLI');
const port = parentPort;
const programs = programServer({
  post: (msg, transfer) => port.postMessage(msg, transfer),
  openSource: (path, name) => nodeFileSource(path, name),
});
port.on('message', (req: SoupWorkerRequest | ProgramWorkerRequest) => {
  if ('kind' in req) {
    programs(req);
    return;
  }
  const { response, transfer } = handleSoupRequest(req);
  port.postMessage(response, transfer);
});
