import type { SourceDocument } from '../eventstore/source-documents.ts';
import { decodeJwsPayload } from './apple/jws.ts';
import { PLAY_ONE_TIME_PRODUCT_NOTIFICATION_TYPES } from './google/translate-product.ts';
import { PLAY_SUBSCRIPTION_NOTIFICATION_TYPES } from './google/translate-subscription.ts';
import { PLAY_REFUND_TYPES } from './google/translate-voided.ts';

/** A store notification, as the store names it: Apple's notificationType and subtype, Google's notification type. */
export interface StoreNotificationName {
  readonly store: 'app_store' | 'play_store';
  readonly type: string;
  readonly subtype: string | null;
}

export interface DecodedDocument {
  /** Null when the document is not a store notification (an API's answer, a receipt, an app's submission). */
  readonly notification: StoreNotificationName | null;
  /**
   * The content made readable for people, never verified here (it was when it came in):
   * a JWS as its header and payload, with the JWSs signed inside it decoded alike; a
   * Pub/Sub push with its base64 `data` decoded; other JSON as it is. Null for anything else.
   */
  readonly decoded: unknown;
}

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** Reads an archived document the way support staff need it: what it says, and what notification it is. */
export function decodeSourceDocument(document: Pick<SourceDocument, 'kind' | 'body'>): DecodedDocument {
  const body = document.body.trim();
  if (COMPACT_JWS.test(body)) {
    const decoded = decodeJws(body);
    return { decoded, notification: appleNotificationName(decoded?.payload) };
  }
  const json = parseJson(body);
  if (document.kind === 'google.rtdn' && isRecord(json) && typeof json.data === 'string') {
    const notification = parseJson(Buffer.from(json.data, 'base64').toString('utf8'));
    return { decoded: { ...json, data: notification ?? json.data }, notification: playNotificationName(notification) };
  }
  return { decoded: json ?? null, notification: null };
}

function decodeJws(jws: string): { header: unknown; payload: unknown } | undefined {
  const header = parseJson(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8'));
  const payload = decodeJwsPayload(jws);
  if (header === undefined || payload === undefined) return undefined;
  return { header, payload: withNestedJwsDecoded(payload) };
}

/** Apple signs the transaction and renewal info inside a notification (`signedTransactionInfo`, ...): decoded in place. */
function withNestedJwsDecoded(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withNestedJwsDecoded);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      if (key.startsWith('signed') && typeof inner === 'string' && COMPACT_JWS.test(inner)) {
        return [key, decodeJws(inner) ?? inner];
      }
      return [key, withNestedJwsDecoded(inner)];
    }),
  );
}

function appleNotificationName(payload: unknown): StoreNotificationName | null {
  if (!isRecord(payload) || typeof payload.notificationType !== 'string') return null;
  const subtype = typeof payload.subtype === 'string' ? payload.subtype : null;
  return { store: 'app_store', type: payload.notificationType, subtype };
}

function playNotificationName(notification: unknown): StoreNotificationName | null {
  if (!isRecord(notification)) return null;
  const named = (type: string, subtype: string | null = null) => ({ store: 'play_store' as const, type, subtype });
  const { subscriptionNotification: s, oneTimeProductNotification: o, voidedPurchaseNotification: v } = notification;
  if (isRecord(s) && typeof s.notificationType === 'number') {
    const known =
      PLAY_SUBSCRIPTION_NOTIFICATION_TYPES[s.notificationType as keyof typeof PLAY_SUBSCRIPTION_NOTIFICATION_TYPES];
    return named(known?.name ?? `SUBSCRIPTION_NOTIFICATION_${s.notificationType}`);
  }
  if (isRecord(o) && typeof o.notificationType === 'number') {
    const known = PLAY_ONE_TIME_PRODUCT_NOTIFICATION_TYPES[o.notificationType as 1 | 2];
    return named(known ?? `ONE_TIME_PRODUCT_NOTIFICATION_${o.notificationType}`);
  }
  if (isRecord(v)) {
    const refund = PLAY_REFUND_TYPES[v.refundType as keyof typeof PLAY_REFUND_TYPES];
    return named('VOIDED_PURCHASE', refund ?? null);
  }
  if (isRecord(notification.testNotification)) return named('TEST');
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
