import type { Command } from 'commander';
import type { PurchaseRecord } from '../application/customer-purchases.ts';
import { lines, type CliIo } from './io.ts';
import { withCliServices } from './services.ts';
import { purchaseLabel } from './support.ts';
import { textTable } from './table.ts';

/**
 * What support staff show a customer as evidence: the purchases behind their access,
 * charge by charge and owner by owner, and the store's own document behind any fact.
 * The same reads as the console's (`src/application`).
 */
export function registerEvidenceCommands(program: Command, io: CliIo): void {
  const { out } = lines(io);

  program
    .command('purchases')
    .description(
      'Every store purchase a customer was ever linked to: its transactions or orders, prices, and who owned it when',
    )
    .argument('<appUserId>', 'the app user id')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { json?: boolean }) =>
      withCliServices(io, async ({ pool, eventStore, catalog }) => {
        const { customerPurchases } = await import('../application/customer-purchases.ts');
        const purchases = await customerPurchases({ db: pool, eventStore, catalog }, appUserId);
        if (options.json) out(JSON.stringify({ appUserId, purchases }, null, 2));
        else if (purchases.length === 0) out(`No purchases for ${appUserId}.`);
        else out(purchases.map(purchaseText).join('\n\n'));
      }),
    );

  program
    .command('document')
    .description("A document of the archive (the store's evidence behind a fact), decoded; --raw prints it verbatim")
    .argument('<documentId>', 'sha256:<hex>, as events and the history name it')
    .option('--raw', 'print the body exactly as received, for checking its signature again')
    .action((documentId: string, options: { raw?: boolean }) =>
      withCliServices(io, async ({ pool }) => {
        const { sourceDocument } = await import('../application/source-document.ts');
        const document = await sourceDocument({ db: pool }, documentId);
        if (options.raw) {
          io.stdout(document.body);
          return;
        }
        const { body: _verbatim, ...described } = document;
        out(JSON.stringify({ ...described, receivedAt: document.receivedAt.toISOString() }, null, 2));
      }),
    );
}

function purchaseText(p: PurchaseRecord): string {
  const heading = `${purchaseLabel(p)}  ${p.productId ?? p.storeProductId ?? '?'}  owner: ${p.owner ?? 'nobody'}`;
  const transactions = tableOrNone(
    p.transactions.map((t) => [
      t.transactionId,
      `${t.purchasedAt} → ${t.expiresAt ?? 'never'}`,
      t.periodType,
      t.price ? `${t.price.amount} ${t.price.currency}` : 'price not known',
      t.revoked ? `revoked at ${t.revoked.at} (${t.revoked.reason})` : '',
    ]),
  );
  const owners = tableOrNone(
    p.owners.map((o) => [
      o.at,
      o.via === 'refused' ? `${o.appUserId} claimed it, refused` : o.appUserId,
      o.via,
      [o.previousAppUserId && `from ${o.previousAppUserId}`, o.by && `by ${o.by}`, o.reason].filter(Boolean).join(', '),
    ]),
  );
  const indent = (text: string) => text.replace(/^/gm, '    ');
  return `${heading}\n  transactions:\n${indent(transactions)}\n  owners:\n${indent(owners)}`;
}

const tableOrNone = (rows: readonly (readonly string[])[]) => (rows.length === 0 ? '(none)' : textTable(rows));
