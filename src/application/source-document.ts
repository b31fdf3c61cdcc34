import type { Queryable } from '../db/pool.ts';
import { refusalFamily, type KindOfCode } from '../domain/refusal.ts';
import { SourceDocumentArchive, type ArchivedDocument } from '../eventstore/source-documents.ts';
import { decodeSourceDocument, type DecodedDocument } from '../ingest/decode-source-document.ts';

const KIND_OF: KindOfCode<'unknown_document'> = { unknown_document: 'not_found' };
export class DocumentRefused extends refusalFamily(KIND_OF) {}

/**
 * A document of the archive as the store (or app) sent it, with what it says decoded: the
 * evidence behind a fact, for support staff to read. The body is verbatim, so its signature
 * can be checked again by anyone.
 */
export async function sourceDocument(
  deps: { db: Queryable },
  documentId: string,
): Promise<ArchivedDocument & DecodedDocument> {
  const document = await new SourceDocumentArchive(deps.db).find(documentId);
  if (!document) throw new DocumentRefused('unknown_document', `The archive has no document ${documentId}`);
  return { ...document, ...decodeSourceDocument(document) };
}
