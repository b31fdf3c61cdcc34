import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';

/**
 * An SQS-compatible server on a loopback port (fauxqs, from the npm registry: the SQS
 * protocol `@aws-sdk/client-sqs` speaks, FIFO queues, visibility, redrive), and a client
 * for it. Each `fifoQueue` is new, so tests do not see each other's messages.
 */
export async function startSqsEmulator({ ownProcess = false } = {}) {
  const server = ownProcess ? await startInOwnProcess() : await startFauxqs({ port: 0, logger: false });
  const sqs = sqsClientFor(server.address);
  let created = 0;
  return {
    endpoint: server.address,
    /** The emulator's process, when it runs in one of its own. */
    pid: 'pid' in server ? server.pid : undefined,
    sqs,
    /** A new FIFO queue, with a FIFO dead-letter queue its redrive policy moves a message to after `maxReceiveCount` receives. */
    async fifoQueue(options: { maxReceiveCount?: number } = {}) {
      const name = `intake-${++created}`;
      const { QueueUrl: deadLetterQueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: `${name}-dead.fifo`, Attributes: { FifoQueue: 'true' } }),
      );
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
      );
      const { QueueUrl: queueUrl } = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${name}.fifo`,
          Attributes: {
            FifoQueue: 'true',
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: Attributes!.QueueArn,
              maxReceiveCount: options.maxReceiveCount ?? 10,
            }),
          },
        }),
      );
      return { queueUrl: queueUrl!, deadLetterQueueUrl: deadLetterQueueUrl! };
    },
    async stop() {
      sqs.destroy();
      await server.stop();
    },
  };
}

/** The emulator in a child process (sqs-emulator-server.ts), stopped with SIGTERM. */
async function startInOwnProcess(): Promise<{ address: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [new URL('./sqs-emulator-server.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`The SQS emulator's process exited (${code}) before it listened`);
    }),
  ])) as [string];
  const { endpoint } = JSON.parse(line) as { endpoint: string };
  return {
    address: endpoint,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export type SqsEmulator = Awaited<ReturnType<typeof startSqsEmulator>>;

/** A client for a local emulator: any credentials do, and none are looked for elsewhere. */
export function sqsClientFor(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}
