import type { Pool } from '../../src/db/pool.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/webhooks/delivery-worker.ts';

/**
 * A started delivery worker on a test database, on the system clock, retrying for an hour
 * and polling often; `options` say what a test is about (addresses, timeouts).
 */
export function startDeliveryWorker(
  pool: Pool,
  options: Pick<DeliveryWorkerOptions, 'allowPrivate'> & Partial<DeliveryWorkerOptions>,
): DeliveryWorker {
  const worker = new DeliveryWorker({
    pool,
    clock: systemClock,
    logger: silentLogger,
    retry: { horizonMs: 3_600_000 },
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
    idlePollMs: 20,
    ...options,
  });
  worker.start();
  return worker;
}
