import appleReceiptVerify, { type ExtractedPurchase } from 'node-apple-receipt-verify';
import type { Environment } from '../../domain/purchase/purchase-key.ts';
import { refusalFamily, type KindOfCode } from '../../domain/refusal.ts';

/**
 * Validates the legacy base64 app receipt that older app versions send, with
 * Apple's verifyReceipt endpoint. We call the endpoint ourselves because
 * node-apple-receipt-verify hard-codes Apple's hosts; we use only its `extract`.
 */
export const APPLE_VERIFY_RECEIPT_URLS: Readonly<Record<Environment, string>> = {
  production: 'https://buy.itunes.apple.com/verifyReceipt',
  sandbox: 'https://sandbox.itunes.apple.com/verifyReceipt',
};

export interface ReceiptVerifierOptions {
  /** The apps whose receipts we accept; a receipt of another app is refused (`wrong_app`). */
  readonly expectedBundleIds: readonly string[];
  /** The app-specific shared secret; without it Apple leaves out auto-renewable details. */
  readonly sharedSecret?: string;
  readonly urls?: Partial<Record<Environment, string>>;
  readonly timeoutMs?: number;
}

/**
 * `receipt_server_unavailable` is the only retryable code: Apple's own outages
 * (21005, 21009, 21100-21199, `is-retryable`), HTTP errors, timeouts, unreadable
 * answers. The others are Apple's verdict on this receipt or our configuration.
 */
export type ReceiptRejectionCode =
  'invalid_receipt' | 'shared_secret_mismatch' | 'wrong_app' | 'receipt_server_unavailable';

const KIND_OF: KindOfCode<ReceiptRejectionCode> = {
  invalid_receipt: 'invalid',
  wrong_app: 'invalid',
  // Our configuration is wrong, not the app's request.
  shared_secret_mismatch: 'bad_gateway',
  receipt_server_unavailable: 'unavailable',
};

export class ReceiptRejection extends refusalFamily(KIND_OF) {
  readonly appleStatus?: number;

  constructor(code: ReceiptRejectionCode, message: string, appleStatus?: number, options?: ErrorOptions) {
    super(code, message, options);
    this.appleStatus = appleStatus;
  }

  get retryable(): boolean {
    return this.code === 'receipt_server_unavailable';
  }
}

export interface VerifiedReceipt {
  /** The endpoint that accepted the receipt. */
  readonly environment: Environment;
  /** 0, or 21006 (a valid receipt whose subscription has expired; Apple still returns its data). */
  readonly status: number;
  readonly bundleId: string;
  /** Apple's answer verbatim, to archive as the source document. */
  readonly rawResponse: string;
  readonly response: VerifyReceiptResponse;
  /** One per transaction id, from `receipt.in_app` and `latest_receipt_info` (the latter wins). */
  readonly purchases: readonly ReceiptPurchase[];
}

/** A transaction as the library extracts it, plus the fields it leaves out that our facts need. */
export interface ReceiptPurchase extends ExtractedPurchase {
  readonly ownership: 'PURCHASED' | 'FAMILY_SHARED';
  /** The period was replaced by an upgrade: its `cancellationDate` is the upgrade, not a refund. */
  readonly isUpgraded: boolean;
  readonly offerCodeRefName?: string;
}

/** Apple's documented verifyReceipt response, the fields Subledger reads. Apple sends numbers as strings. */
export interface VerifyReceiptResponse {
  readonly status: number;
  readonly environment?: 'Production' | 'Sandbox';
  readonly 'is-retryable'?: boolean | number | string;
  readonly receipt?: {
    readonly bundle_id: string;
    /** When Apple processed this verifyReceipt request. */
    readonly request_date_ms?: string;
    readonly receipt_creation_date_ms?: string;
    readonly in_app?: readonly ReceiptTransactionInfo[];
  };
  readonly latest_receipt_info?: readonly ReceiptTransactionInfo[];
  readonly pending_renewal_info?: readonly PendingRenewalInfo[];
  readonly latest_receipt?: string;
}

export interface ReceiptTransactionInfo {
  readonly transaction_id: string;
  readonly original_transaction_id: string;
  readonly product_id: string;
  readonly purchase_date_ms: string;
  readonly original_purchase_date_ms?: string;
  readonly expires_date_ms?: string;
  readonly quantity?: string;
  readonly is_trial_period?: 'true' | 'false';
  readonly is_in_intro_offer_period?: 'true' | 'false';
  readonly is_upgraded?: 'true';
  readonly cancellation_date_ms?: string;
  readonly cancellation_reason?: '0' | '1';
  readonly in_app_ownership_type?: 'PURCHASED' | 'FAMILY_SHARED';
  readonly web_order_line_item_id?: string;
  readonly promotional_offer_id?: string;
  readonly offer_code_ref_name?: string;
}

export interface PendingRenewalInfo {
  readonly original_transaction_id: string;
  readonly product_id: string;
  readonly auto_renew_product_id?: string;
  readonly auto_renew_status?: '0' | '1';
  readonly is_in_billing_retry_period?: '0' | '1';
  readonly grace_period_expires_date_ms?: string;
  /** 1 voluntary, 2 billing error, 3 price increase declined, 4 product unavailable, 5 other. */
  readonly expiration_intent?: string;
}

const SANDBOX_RECEIPT_SENT_TO_PRODUCTION = 21007;
const VALID_BUT_SUBSCRIPTION_EXPIRED = 21006;

export async function verifyAppleReceipt(
  receiptData: string,
  options: ReceiptVerifierOptions,
): Promise<VerifiedReceipt> {
  const body = JSON.stringify({
    'receipt-data': receiptData,
    ...(options.sharedSecret !== undefined && { password: options.sharedSecret }),
    'exclude-old-transactions': false,
  });
  const post = (environment: Environment) =>
    postToApple(options.urls?.[environment] ?? APPLE_VERIFY_RECEIPT_URLS[environment], body, options.timeoutMs);

  // Apple's documented order: production first, sandbox only for a sandbox receipt.
  let environment: Environment = 'production';
  let answer = await post(environment);
  if (answer.response.status === SANDBOX_RECEIPT_SENT_TO_PRODUCTION) {
    environment = 'sandbox';
    answer = await post(environment);
  }
  const { response, text } = answer;
  refuseUnlessValid(response);
  const bundleId = response.receipt?.bundle_id;
  if (bundleId === undefined) {
    throw new ReceiptRejection('receipt_server_unavailable', 'verifyReceipt accepted the receipt but returned none');
  }
  if (!options.expectedBundleIds.includes(bundleId)) {
    throw new ReceiptRejection('wrong_app', `Receipt of ${bundleId}, which is no app in the catalog`);
  }
  return {
    environment,
    status: response.status,
    bundleId,
    rawResponse: text,
    response,
    purchases: await purchasesOf(response),
  };
}

/** The transactions of a verifyReceipt response: the library's extraction, deduplicated and completed. */
export async function purchasesOf(response: VerifyReceiptResponse): Promise<ReceiptPurchase[]> {
  // `ignoreExpired` is explicit: `validate`'s default (true) would drop expired history by `Date.now()`.
  const extracted = (await appleReceiptVerify.extract({ response, extended: true, ignoreExpired: false })) ?? [];
  // Both lists name the same transactions, and the library keeps both copies when their
  // purchase dates are equal; `latest_receipt_info` comes last and is Apple's newest word.
  const raw = new Map(
    [...(response.receipt?.in_app ?? []), ...(response.latest_receipt_info ?? [])].map((t) => [t.transaction_id, t]),
  );
  const byId = new Map(extracted.map((p) => [p.transactionId, p]));
  return [...byId.values()].map((purchase) => {
    const info = raw.get(purchase.transactionId);
    return {
      ...purchase,
      ownership: info?.in_app_ownership_type ?? 'PURCHASED',
      isUpgraded: info?.is_upgraded === 'true',
      ...(info?.offer_code_ref_name && { offerCodeRefName: info.offer_code_ref_name }),
    };
  });
}

function refuseUnlessValid(response: VerifyReceiptResponse): void {
  const { status } = response;
  if (status === 0 || status === VALID_BUT_SUBSCRIPTION_EXPIRED) return;
  const retryable = [true, 1, '1', 'true'].includes(response['is-retryable'] ?? false);
  if (retryable || status === 21005 || status === 21009 || (status >= 21100 && status <= 21199)) {
    throw new ReceiptRejection('receipt_server_unavailable', `verifyReceipt is unavailable (status ${status})`, status);
  }
  if (status === 21004) {
    throw new ReceiptRejection(
      'shared_secret_mismatch',
      'The shared secret does not match the app (status 21004)',
      status,
    );
  }
  // 21000-21003, 21008, 21010 and statuses Apple may add: a verdict on this receipt.
  throw new ReceiptRejection('invalid_receipt', `verifyReceipt refused the receipt (status ${status})`, status);
}

async function postToApple(
  url: string,
  body: string,
  timeoutMs = 15_000,
): Promise<{ response: VerifyReceiptResponse; text: string }> {
  let httpStatus: number;
  let text: string;
  try {
    const reply = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    httpStatus = reply.status;
    text = await reply.text();
  } catch (error) {
    throw new ReceiptRejection('receipt_server_unavailable', `verifyReceipt at ${url} did not answer`, undefined, {
      cause: error,
    });
  }
  if (httpStatus < 200 || httpStatus > 299) {
    throw new ReceiptRejection('receipt_server_unavailable', `verifyReceipt at ${url} answered HTTP ${httpStatus}`);
  }
  const response = parseResponse(text);
  if (!response) {
    throw new ReceiptRejection('receipt_server_unavailable', `verifyReceipt at ${url} answered something unreadable`);
  }
  return { response, text };
}

function parseResponse(text: string): VerifyReceiptResponse | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const ok =
      typeof parsed === 'object' && parsed !== null && typeof (parsed as { status?: unknown }).status === 'number';
    return ok ? (parsed as VerifyReceiptResponse) : undefined;
  } catch {
    return undefined;
  }
}
