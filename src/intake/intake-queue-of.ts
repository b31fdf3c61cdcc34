import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import type { IntakeQueue } from './intake-queue.ts';
import { PostgresIntakeQueue } from './postgres-intake-queue.ts';

/**
 * The intake queue the settings name (`INTAKE_QUEUE`), over this database. The AWS SDK is
 * loaded only for SQS, so that the default costs no start-up time for it.
 */
export async function intakeQueueOf(settings: Config['intake']['queue'], pool: Pool): Promise<IntakeQueue> {
  if (settings.kind === 'postgres') return new PostgresIntakeQueue(pool);
  const [{ SQSClient }, { SqsIntakeQueue }] = await Promise.all([
    import('@aws-sdk/client-sqs'),
    import('./sqs-intake-queue.ts'),
  ]);
  // Credentials come from the AWS SDK's usual chain (environment, profile, instance role).
  const sqs = new SQSClient({
    ...(settings.endpoint && { endpoint: settings.endpoint }),
    ...(settings.region && { region: settings.region }),
  });
  return new SqsIntakeQueue({
    sqs,
    queueUrl: settings.queueUrl,
    ...(settings.deadLetterQueueUrl && { deadLetterQueueUrl: settings.deadLetterQueueUrl }),
    db: pool,
  });
}
