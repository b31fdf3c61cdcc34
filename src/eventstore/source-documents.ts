import { createHash } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import type { SourceReference } from './event-store.ts';

/** A document exactly as a store (or an app) sent it: the evidence behind recorded facts. */
export interface SourceDocument {
  /** What it is, e.g. `apple.notification.v2`, `google.rtdn`, `google.subscriptionsv2.get`. */
  readonly kind: string;
  readonly contentType: string;
  /** Verbatim, never re-serialised: signatures must still verify years later. */
  readonly body: string;
}

export interface ArchivedDocument extends SourceDocument {
  readonly documentId: string;
  readonly receivedAt: Date;
}

/** `sha256:<hex>` of the body: the same document always has the same id. */
export function documentIdOf(body: string): string {
  return `sha256:${createHash('sha256').update(body, 'utf8').digest('hex')}`;
}

/**
 * Keeps source documents in PostgreSQL, content-addressed. Keeping a document
 * twice is harmless; it is written before the events that refer to it, so an
 * event never points at a missing document.
 */
export class SourceDocumentArchive {
  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  async keep(document: SourceDocument): Promise<SourceReference> {
    const [kept] = await this.keepAll([document]);
    return kept!;
  }

  /** Several documents in one statement; their references in the same order. */
  async keepAll(documents: readonly SourceDocument[]): Promise<SourceReference[]> {
    const documentIds = documents.map((d) => documentIdOf(d.body));
    await this.db.query({
      name: 'documents-keep-all',
      text: `INSERT INTO source_documents (document_id, kind, content_type, body)
             SELECT DISTINCT ON (document_id) * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
               AS d(document_id, kind, content_type, body)
             ON CONFLICT (document_id) DO NOTHING`,
      values: [
        documentIds,
        documents.map((d) => d.kind),
        documents.map((d) => d.contentType),
        documents.map((d) => d.body),
      ],
    });
    return documents.map((d, i) => ({ documentId: documentIds[i]!, kind: d.kind }));
  }

  async find(documentId: string): Promise<ArchivedDocument | undefined> {
    return (await this.findAll([documentId])).get(documentId);
  }

  /** Several documents in one query, by id; missing ones are simply absent. */
  async findAll(documentIds: readonly string[]): Promise<Map<string, ArchivedDocument>> {
    const { rows } = await this.db.query<{
      document_id: string;
      kind: string;
      content_type: string;
      body: string;
      received_at: Date;
    }>({
      name: 'documents-find-all',
      text: 'SELECT * FROM source_documents WHERE document_id = ANY($1::text[])',
      values: [documentIds],
    });
    return new Map(
      rows.map((row) => [
        row.document_id,
        {
          documentId: row.document_id,
          kind: row.kind,
          contentType: row.content_type,
          body: row.body,
          receivedAt: row.received_at,
        },
      ]),
    );
  }
}
