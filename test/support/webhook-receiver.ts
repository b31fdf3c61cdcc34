import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  readonly id: string;
  readonly type: string;
  readonly appUserId: string | undefined;
  readonly data: Record<string, unknown>;
  /** Which of the receiver's secrets verified it. */
  readonly verifiedBy: number[];
  readonly at: number;
}

/** What the receiver answers to a request; `undefined` answers 204. */
export type Behaviour = (request: IncomingMessage, response: ServerResponse) => void | 'answered';

/**
 * An app's backend as a Standard Webhooks receiver: it verifies every request with the
 * `standardwebhooks` library against the secrets it knows, and refuses (401) any that
 * does not verify. Tests set what it answers, to make it fail, stall or throttle.
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const refused: string[] = [];
  let secrets: string[] = [];
  let behaviour: Behaviour | undefined;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (behaviour?.(request, response) === 'answered') return;
    const headers = Object.fromEntries(
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(request.headers[h] ?? '')]),
    );
    const verifiedBy = secrets.flatMap((secret, index) => {
      try {
        new Webhook(secret).verify(body, headers);
        return [index];
      } catch {
        return [];
      }
    });
    if (verifiedBy.length === 0) {
      refused.push(headers['webhook-id']!);
      response.writeHead(401).end();
      return;
    }
    const { type, data } = JSON.parse(body) as { type: string; data: Record<string, unknown> };
    received.push({
      id: headers['webhook-id']!,
      type,
      appUserId: data.appUserId as string | undefined,
      data,
      verifiedBy,
      at: Date.now(),
    });
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    refused,
    trust(...newSecrets: string[]) {
      secrets = newSecrets;
    },
    behave(next: Behaviour | undefined) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
