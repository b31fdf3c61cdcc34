/**
 * The SQS emulator as a process of its own (`startSqsEmulator({ ownProcess: true })`):
 * prints its address as one line of JSON, and stops on SIGTERM. A benchmark runs it
 * apart so that its CPU is counted as the queue's, not the load generator's.
 */
import { startFauxqs } from 'fauxqs';

const server = await startFauxqs({ port: 0, logger: false });
process.stdout.write(`${JSON.stringify({ endpoint: server.address })}\n`);
process.once('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
