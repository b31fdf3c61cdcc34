import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';

/**
 * An SQS-compatible server on a loopback port (fauxqs, from the npm registry: the SQS
 * protocol `@aws-sdk/client-sqs` speaks, FIFO queues, visibility, redrive), and a client
 * for it. Each `fifoQueue` is new, so tests do not see each other's messages.
 */
export async function startSqsEmulator() {
  const server = await startFauxqs({ port: 0, logger: false });
  const sqs = sqsClientFor(server.address);
  let created = 0;
  return {
    endpoint: server.address,
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

export type SqsEmulator = Awaited<ReturnType<typeof startSqsEmulator>>;

/** A client for a local emulator: any credentials do, and none are looked for elsewhere. */
export function sqsClientFor(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}
