import { createHash } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import type { SourceReference } from './event-store.ts';
import { referencedHeaders, restoreHeaders, shareHeaders } from './shared-jws-headers.ts';

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
    const rows = archiveRows(documents);
    await this.db.query({
      name: 'documents-keep-all',
      text: `WITH headers AS (${INSERT_HEADERS('$6', '$7')})
             ${INSERT_DOCUMENTS('SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])')}`,
      values: [rows.documentIds, rows.kinds, rows.contentTypes, rows.bodies, rows.encodings, ...rows.headers],
    });
    return documents.map((d, i) => ({ documentId: rows.documentIds[i]!, kind: d.kind }));
  }

  async find(documentId: string): Promise<ArchivedDocument | undefined> {
    return (await this.findAll([documentId])).get(documentId);
  }

  /** Several documents in one query, by id, each as it was sent; missing ones are simply absent. */
  async findAll(documentIds: readonly string[]): Promise<Map<string, ArchivedDocument>> {
    const { rows } = await this.db.query<{
      document_id: string;
      kind: string;
      content_type: string;
      body: string;
      body_encoding: BodyEncoding;
      received_at: Date;
    }>({
      name: 'documents-find-all',
      text: 'SELECT * FROM source_documents WHERE document_id = ANY($1::text[])',
      values: [documentIds],
    });
    const shared = rows.filter((row) => row.body_encoding === 'jws-shared-headers');
    const headers = await this.headersOf(shared.flatMap((row) => referencedHeaders(row.body)));
    return new Map(
      rows.map((row) => [
        row.document_id,
        {
          documentId: row.document_id,
          kind: row.kind,
          contentType: row.content_type,
          body: row.body_encoding === 'verbatim' ? row.body : restoreHeaders(row.body, headers),
          receivedAt: row.received_at,
        },
      ]),
    );
  }

  /** The headers with these digests: remembered ones, and the others read once. */
  private async headersOf(digests: readonly string[]): Promise<Map<string, string>> {
    const headers = new Map<string, string>();
    const unknown: string[] = [];
    for (const digest of new Set(digests)) {
      const segment = knownHeaders.get(digest);
      if (segment === undefined) unknown.push(digest);
      else headers.set(digest, segment);
    }
    if (unknown.length === 0) return headers;
    const { rows } = await this.db.query<{ digest: string; segment: string }>({
      name: 'documents-headers',
      text: 'SELECT digest, segment FROM jws_headers WHERE digest = ANY($1::text[])',
      values: [unknown],
    });
    if (knownHeaders.size + rows.length > MAX_KNOWN_HEADERS) knownHeaders.clear();
    for (const { digest, segment } of rows) {
      knownHeaders.set(digest, segment);
      headers.set(digest, segment);
    }
    return headers;
  }
}

/** How a row's body holds its document (migration 0031). */
type BodyEncoding = 'verbatim' | 'jws-shared-headers';

/**
 * JWS headers by their SHA-256, as read from `jws_headers`: content-addressed, so never
 * stale, whichever database they came from. A store signs with a handful of certificate
 * chains a year; the bound is for test runs, which make a chain per test.
 */
const knownHeaders = new Map<string, string>();
const MAX_KNOWN_HEADERS = 1_000;

/**
 * Documents as the archive writes them, one array per column for `unnest`: a compact JWS
 * with its headers shared (shared-jws-headers.ts) whenever that restores it exactly,
 * anything else verbatim. `headers` is [digests, segments] for INSERT_HEADERS.
 */
export function archiveRows(documents: readonly SourceDocument[]) {
  const forms = documents.map((d) => shareHeaders(d.body));
  const headers = new Map<string, string>();
  for (const form of forms) for (const [digest, segment] of form?.headers ?? []) headers.set(digest, segment);
  // In digest order, as the documents are (DISTINCT ON sorts them): two groups sharing
  // headers lock them in the same order, so they cannot deadlock.
  const digests = [...headers.keys()].sort();
  return {
    documentIds: documents.map((d) => documentIdOf(d.body)),
    kinds: documents.map((d) => d.kind),
    contentTypes: documents.map((d) => d.contentType),
    bodies: documents.map((d, i) => forms[i]?.stored ?? d.body),
    encodings: forms.map((form): BodyEncoding => (form ? 'jws-shared-headers' : 'verbatim')),
    headers: [digests, digests.map((digest) => headers.get(digest)!)] as const,
  };
}

/** Keeps the headers given as two text arrays (digests, segments): a CTE, before the documents that refer to them. */
export const INSERT_HEADERS = (digests: string, segments: string) =>
  `INSERT INTO jws_headers (digest, segment) SELECT * FROM unnest(${digests}::text[], ${segments}::text[])
   ON CONFLICT (digest) DO NOTHING`;

/** Keeps the documents `rows` selects, as (document_id, kind, content_type, body, body_encoding): the same one once. */
export const INSERT_DOCUMENTS = (rows: string) =>
  `INSERT INTO source_documents (document_id, kind, content_type, body, body_encoding)
   SELECT DISTINCT ON (document_id) * FROM (${rows}) AS d(document_id, kind, content_type, body, body_encoding)
   ON CONFLICT (document_id) DO NOTHING`;
