import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Environment } from '../../src/domain/purchase/purchase-key.ts';
import type {
  PendingRenewalInfo,
  ReceiptTransactionInfo,
  VerifyReceiptResponse,
} from '../../src/ingest/apple/verify-receipt.ts';

export interface RecordedReceiptRequest {
  readonly environment: Environment;
  readonly body: Record<string, unknown>;
}

export interface FakeVerifyReceipt {
  /** Pass as `urls` to verifyAppleReceipt. */
  readonly urls: Readonly<Record<Environment, string>>;
  readonly requests: readonly RecordedReceiptRequest[];
  /** What the environment's endpoint answers for `receiptData`; the other endpoint answers 21007 or 21008. */
  register(environment: Environment, receiptData: string, response: VerifyReceiptResponse): void;
  /** The next request, to either endpoint, gets this HTTP status and an HTML page, as in Apple's outages. */
  failNextRequest(httpStatus?: number): void;
  /** The next request gets no answer until the server closes. */
  stallNextRequest(): void;
  close(): Promise<void>;
}

/**
 * Apple's verifyReceipt over real HTTP on 127.0.0.1, production at `/production/verifyReceipt`
 * and sandbox at `/sandbox/verifyReceipt`, with Apple's status codes for the cases
 * our client must tell apart: 21007 (sandbox receipt sent to production), 21008
 * (the reverse), 21002 (unknown receipt), 21004 (wrong shared secret).
 */
export async function startFakeVerifyReceipt(options: { sharedSecret?: string } = {}): Promise<FakeVerifyReceipt> {
  const receipts: Record<Environment, Map<string, VerifyReceiptResponse>> = {
    production: new Map(),
    sandbox: new Map(),
  };
  const requests: RecordedReceiptRequest[] = [];
  let nextFailure: number | 'stall' | undefined;

  const answer = (environment: Environment, body: Record<string, unknown>): VerifyReceiptResponse => {
    const data = body['receipt-data'];
    const other = environment === 'production' ? 'sandbox' : 'production';
    if (typeof data !== 'string') return { status: 21002 };
    if (receipts[other].has(data)) return { status: environment === 'production' ? 21007 : 21008 };
    const response = receipts[environment].get(data);
    if (!response) return { status: 21002 };
    if (options.sharedSecret !== undefined && body.password !== options.sharedSecret) return { status: 21004 };
    return response;
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const environment = ({ '/production/verifyReceipt': 'production', '/sandbox/verifyReceipt': 'sandbox' } as const)[
      req.url as '/production/verifyReceipt'
    ];
    let text = '';
    for await (const chunk of req) text += chunk;
    if (!environment || req.method !== 'POST') return void res.writeHead(404).end();
    const body = parseObject(text);
    requests.push({ environment, body });

    const failure = nextFailure;
    nextFailure = undefined;
    if (failure === 'stall') return;
    if (failure !== undefined) {
      return void res
        .writeHead(failure, { 'content-type': 'text/html' })
        .end('<html><body>Service Unavailable</body></html>');
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(environment, body)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    urls: { production: `${base}/production/verifyReceipt`, sandbox: `${base}/sandbox/verifyReceipt` },
    requests,
    register: (environment, receiptData, response) => void receipts[environment].set(receiptData, response),
    failNextRequest: (httpStatus = 503) => void (nextFailure = httpStatus),
    stallNextRequest: () => void (nextFailure = 'stall'),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Builders for responses in Apple's documented verifyReceipt shape, dates as epoch milliseconds. */
export function receiptTransaction(
  transactionId: string,
  originalTransactionId: string,
  productId: string,
  purchasedAt: number,
  expiresAt?: number,
  extra: Partial<ReceiptTransactionInfo> = {},
): ReceiptTransactionInfo {
  return {
    quantity: '1',
    transaction_id: transactionId,
    original_transaction_id: originalTransactionId,
    product_id: productId,
    purchase_date_ms: String(purchasedAt),
    original_purchase_date_ms: String(purchasedAt),
    ...(expiresAt !== undefined && { expires_date_ms: String(expiresAt), web_order_line_item_id: `w${transactionId}` }),
    is_trial_period: 'false',
    is_in_intro_offer_period: 'false',
    in_app_ownership_type: 'PURCHASED',
    ...extra,
  };
}

export function receiptResponse(parts: {
  bundleId: string;
  environment: 'Production' | 'Sandbox';
  requestedAt: number;
  /** Goes to both `receipt.in_app` and `latest_receipt_info`, as Apple repeats them. */
  transactions: ReceiptTransactionInfo[];
  pendingRenewalInfo?: PendingRenewalInfo[];
  status?: number;
}): VerifyReceiptResponse {
  return {
    status: parts.status ?? 0,
    environment: parts.environment,
    receipt: {
      bundle_id: parts.bundleId,
      request_date_ms: String(parts.requestedAt),
      receipt_creation_date_ms: String(parts.requestedAt - 86_400_000),
      in_app: parts.transactions,
    },
    latest_receipt_info: parts.transactions,
    ...(parts.pendingRenewalInfo && { pending_renewal_info: parts.pendingRenewalInfo }),
    latest_receipt: 'bGF0ZXN0',
  };
}
