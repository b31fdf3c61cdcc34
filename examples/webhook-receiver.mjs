// Your backend, hearing Subledger's webhooks: each one verified with the `standardwebhooks`
// library (any Standard Webhooks verifier will do), then printed.
//
//   WEBHOOK_SECRET=whsec_... PORT=4000 node examples/webhook-receiver.mjs
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET);

createServer(async (request, response) => {
  let body = '';
  for await (const chunk of request) body += chunk;
  try {
    const { type, data } = webhook.verify(body, request.headers);
    // webhook-id is the same on every attempt: keep it to ignore a repeat.
    console.log(
      request.headers['webhook-id'],
      type,
      data.appUserId ?? '',
      JSON.stringify(data.entitlements?.after ?? []),
    );
    response.writeHead(204).end();
  } catch (error) {
    console.log('refused:', error.message);
    response.writeHead(401).end();
  }
}).listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => console.log('listening'));
