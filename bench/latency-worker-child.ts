// A child process: the latency section's measured worker (latency-worker.ts) alone in its process,
// as a deployment runs a worker (its config from the environment, like worker/main.ts), with the producer and the bench's bookkeeping in the parent. Talks
// to the parent over IPC: 'ready', 'progress', then one 'report' once every job has completed.
import { loadConfig } from '../shared/runtime/config.js';
import type { LatencyChildMessage, LatencyParentMessage } from './children.js';
import { startMeasuredWorker } from './latency-worker.js';

const total = Number(process.argv[2]);
const send = (message: LatencyChildMessage) => process.send?.(message);
const worker = startMeasuredWorker(loadConfig(), total, (finished) => send({ type: 'progress', finished }));
process.on('message', (message: LatencyParentMessage) => {
  if (message.type === 'measure') worker.measureFrom(message.fromEpochMs);
});
await worker.ready;
send({ type: 'ready' });
const report = await worker.done;
process.send?.({ type: 'report', report } satisfies LatencyChildMessage, () => process.exit(0));
