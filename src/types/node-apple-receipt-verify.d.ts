/**
 * The part of node-apple-receipt-verify 1.15 that Subledger uses: `extract`, which
 * parses a verifyReceipt response. Its `validate` is not declared on purpose: it
 * can only call Apple's hard-coded hosts (see src/ingest/apple/verify-receipt.ts).
 */
declare module 'node-apple-receipt-verify' {
  /** One transaction as `extract({ extended: true })` returns it. Dates are epoch milliseconds, 0 when absent. */
  export interface ExtractedPurchase {
    readonly transactionId: string;
    readonly originalTransactionId: string;
    readonly bundleId: string;
    readonly productId: string;
    readonly purchaseDate: number;
    /** 0 for purchases that do not expire. */
    readonly expirationDate: number;
    readonly quantity: number;
    readonly webOrderLineItemId?: string;
    readonly isTrialPeriod: boolean;
    readonly isInIntroOfferPeriod: boolean;
    readonly promotionalOfferId?: string;
    /** Lower-cased `environment` of the response, `production` when the response has none. */
    readonly environment: string;
    readonly originalPurchaseDate: number;
    readonly appAccountToken?: string;
    readonly cancellationDate?: number;
    readonly cancellationReason?: string;
    /** The response's whole `pending_renewal_info` array, as Apple sent it, on every purchase. */
    readonly pendingRenewalInfo?: readonly unknown[];
  }

  export interface ExtractOptions {
    readonly response: unknown;
    readonly extended?: boolean;
    /** Drops transactions whose expiry is before `Date.now()`. */
    readonly ignoreExpired?: boolean;
  }

  const appleReceiptVerify: {
    /** Null when the response has no `receipt`. */
    extract(options: ExtractOptions): Promise<ExtractedPurchase[] | null>;
  };
  export default appleReceiptVerify;
}
