import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** The first time the receiver got one delivery (an endpoint's webhook-id). */
export interface FirstReceipt {
  readonly endpoint: number;
  readonly eventId: string;
  readonly type: string;
  readonly appUserId: string | undefined;
  /** performance.now() of this process, once the whole body was read. */
  readonly at: number;
}

export interface ReceiverCounts {
  /** Requests answered, duplicates included. */
  readonly requests: number;
  /** Distinct (endpoint, webhook-id). */
  readonly unique: number;
  /** A webhook-id its endpoint already got: allowed (at least once), but counted. */
  readonly duplicates: number;
  readonly verified: number;
  /** Refused with 401: the signature did not verify with the endpoint's secret. */
  readonly badSignature: number;
  /** An ENTITLEMENTS_CHANGED before that customer's INITIAL_PURCHASE, at the same endpoint. */
  readonly orderViolations: number;
}

/**
 * The app backends: one HTTP server per endpoint, each on a port of its own on loopback
 * (as many backends are many origins, each with its own connection pool in the service),
 * answering 204 at once. It verifies the Standard Webhooks signature of every
 * `verifyEvery`-th request (1: all) with the `standardwebhooks` library and the
 * endpoint's secret, refusing (401) one that does not verify, as a real receiver would,
 * and counts distinct webhook-ids per endpoint, duplicates, and order violations.
 */
export class Receiver {
  readonly urls: readonly string[];
  onFirst: ((receipt: FirstReceipt) => void) | undefined;

  private readonly servers: readonly Server[];
  private readonly verifiers: (Webhook | undefined)[];
  private readonly seen = new Set<string>();
  private readonly purchased = new Set<string>();
  private readonly verifyEvery: number;
  private counts = { requests: 0, unique: 0, duplicates: 0, verified: 0, badSignature: 0, orderViolations: 0 };

  private constructor(servers: Server[], urls: string[], verifyEvery: number) {
    this.servers = servers;
    this.urls = urls;
    this.verifyEvery = verifyEvery;
    this.verifiers = urls.map(() => undefined);
  }

  static async start(endpoints: number, verifyEvery: number): Promise<Receiver> {
    const servers: Server[] = [];
    const urls: string[] = [];
    let receiver: Receiver | undefined;
    try {
      for (let endpoint = 0; endpoint < endpoints; endpoint++) {
        const server = createServer((request, response) => {
          const chunks: Buffer[] = [];
          request.on('data', (chunk: Buffer) => chunks.push(chunk));
          request.on('end', () => {
            const status = receiver!.receive(endpoint, request.headers, Buffer.concat(chunks).toString('utf8'));
            response.writeHead(status).end();
          });
        });
        // The service keeps its connections; so does a typical backend behind a load balancer.
        server.keepAliveTimeout = 65_000;
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', resolve);
        });
        const { port } = server.address() as { port: number };
        urls.push(`http://127.0.0.1:${port}/hooks/${endpoint}`);
      }
    } catch (error) {
      await closeAll(servers);
      throw error;
    }
    receiver = new Receiver(servers, urls, verifyEvery);
    return receiver;
  }

  /** The endpoint's signing secret, as its creation answered it. */
  trust(endpoint: number, secret: string): void {
    this.verifiers[endpoint] = new Webhook(secret);
  }

  get stats(): ReceiverCounts {
    return { ...this.counts };
  }

  close(): Promise<void> {
    return closeAll(this.servers);
  }

  private receive(endpoint: number, headers: NodeJS.Dict<string | string[]>, body: string): number {
    const counts = this.counts;
    counts.requests++;
    const id = String(headers['webhook-id'] ?? '');
    if (counts.requests % this.verifyEvery === 0) {
      const verifier = this.verifiers[endpoint];
      try {
        if (!verifier) throw new Error('no secret yet');
        verifier.verify(body, {
          'webhook-id': id,
          'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(headers['webhook-signature'] ?? ''),
        });
        counts.verified++;
      } catch {
        counts.badSignature++;
        return 401;
      }
    }
    const at = performance.now();
    const key = `${endpoint} ${id}`;
    if (this.seen.has(key)) {
      counts.duplicates++;
      return 204;
    }
    this.seen.add(key);
    counts.unique++;
    const { type, data } = JSON.parse(body) as { type: string; data?: { appUserId?: string } };
    const appUserId = data?.appUserId;
    const customer = `${endpoint} ${appUserId}`;
    if (type === 'INITIAL_PURCHASE') this.purchased.add(customer);
    else if (type === 'ENTITLEMENTS_CHANGED' && !this.purchased.has(customer)) counts.orderViolations++;
    this.onFirst?.({ endpoint, eventId: id, type, appUserId, at });
    return 204;
  }
}

async function closeAll(servers: readonly Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}
