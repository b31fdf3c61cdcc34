import type { Scenario } from './chaos.ts';
import { iso } from './truth.ts';

/** A scenario as a readable story: the truth, then what reached Subledger and when. */
export function story({ lifecycle, deliveries }: Scenario): string {
  const short = (token: string) => `#${lifecycle.tokens.findIndex((t) => t.token === token)}`;
  const times = (data: object) =>
    Object.entries(data)
      .filter(([key]) => !['kind', 'at', 'token'].includes(key))
      .map(([key, value]) => `${key}=${typeof value === 'number' ? iso(value) : String(value)}`)
      .join(' ');
  return [
    ...lifecycle.tokens.map(
      (t) =>
        `token ${short(t.token)} ${t.productId}${t.trial ? ' (trial)' : ''}${t.linkedPurchaseToken ? ` replacing ${short(t.linkedPurchaseToken)}` : ''}` +
        `${t.accountIdInDocument ? ', account id in documents' : ''}; once replaced Google answers ${JSON.stringify(t.whenReplaced)}`,
    ),
    ...lifecycle.happenings.map((h) => `  ${iso(h.at)} ${short(h.token)} ${h.kind} ${times(h)}`),
    `now ${iso(lifecycle.end)}`,
    'delivered:',
    ...deliveries.map((d) => {
      if (d.kind === 'ask') return `  ${iso(d.at)} asks Google about ${short(d.token)} (${d.why})`;
      if (d.kind === 'voided_poll') return `  ${iso(d.at)} voided purchases poll`;
      const n = d.notification.document;
      const what = n.subscriptionNotification
        ? `type ${n.subscriptionNotification.notificationType}`
        : `voided ${n.voidedPurchaseNotification?.orderId}`;
      return `  ${iso(d.at)} notification ${what} about ${short(d.notification.token)} of ${iso(d.notification.eventTime)}`;
    }),
  ].join('\n');
}
