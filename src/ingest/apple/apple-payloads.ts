/**
 * The fields Subledger reads from App Store Server Notifications V2 once their
 * signatures are verified (Apple's `ResponseBodyV2DecodedPayload`,
 * `JWSTransactionDecodedPayload`, `JWSRenewalInfoDecodedPayload`). Only src/ingest
 * knows these shapes. Times are milliseconds since the epoch, as Apple sends them.
 */
export interface AppleNotification {
  readonly notificationType: string;
  readonly subtype?: string;
  readonly notificationUUID: string;
  readonly signedDate: number;
  readonly data?: {
    readonly environment?: AppleEnvironment;
    readonly bundleId?: string;
    readonly appAppleId?: number;
    readonly status?: number;
  };
}

export type AppleEnvironment = 'Sandbox' | 'Production' | 'Xcode' | 'LocalTesting';

export interface AppleTransaction {
  readonly transactionId: string;
  readonly originalTransactionId: string;
  readonly bundleId: string;
  readonly productId: string;
  readonly type: 'Auto-Renewable Subscription' | 'Non-Consumable' | 'Consumable' | 'Non-Renewing Subscription';
  readonly purchaseDate: number;
  readonly expiresDate?: number;
  readonly signedDate: number;
  readonly environment: AppleEnvironment;
  readonly inAppOwnershipType?: 'PURCHASED' | 'FAMILY_SHARED';
  readonly appAccountToken?: string;
  /** 1 introductory, 2 promotional, 3 offer code, 4 win-back. */
  readonly offerType?: number;
  readonly offerIdentifier?: string;
  readonly offerDiscountType?: 'FREE_TRIAL' | 'PAY_AS_YOU_GO' | 'PAY_UP_FRONT';
  readonly revocationDate?: number;
  /** 0 refunded for another reason, 1 refunded for an issue with the app. */
  readonly revocationReason?: number;
  readonly isUpgraded?: boolean;
}

export interface AppleRenewalInfo {
  readonly originalTransactionId: string;
  readonly productId: string;
  readonly autoRenewProductId?: string;
  /** 0 off, 1 on. */
  readonly autoRenewStatus?: number;
  readonly isInBillingRetryPeriod?: boolean;
  readonly gracePeriodExpiresDate?: number;
  /** 1 voluntary, 2 billing error, 3 price increase declined, 4 product unavailable, 5 other. */
  readonly expirationIntent?: number;
  readonly signedDate: number;
}

/** A verified notification with its nested signed documents decoded. */
export interface VerifiedAppleNotification {
  readonly notification: AppleNotification;
  readonly transaction?: AppleTransaction;
  readonly renewalInfo?: AppleRenewalInfo;
}
