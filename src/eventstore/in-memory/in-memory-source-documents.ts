import type { SourceReference } from '../event-store.ts';
import {
  documentIdOf,
  type ArchivedDocument,
  type SourceDocument,
  type SourceDocumentArchive,
} from '../source-documents.ts';

/**
 * The source document archive in this process's memory, beside the in-memory event
 * store and intake queue. Content-addressed like the PostgreSQL one: keeping the
 * same document twice keeps the first.
 */
export class InMemorySourceDocuments implements Pick<SourceDocumentArchive, 'keep' | 'find' | 'findAll'> {
  private readonly documents = new Map<string, ArchivedDocument>();
  private readonly clock: () => Date;

  constructor(options: { clock?: () => Date } = {}) {
    this.clock = options.clock ?? (() => new Date());
  }

  async keep(document: SourceDocument): Promise<SourceReference> {
    const documentId = documentIdOf(document.body);
    if (!this.documents.has(documentId)) {
      const { kind, contentType, body } = document;
      this.documents.set(documentId, { documentId, kind, contentType, body, receivedAt: new Date(this.clock()) });
    }
    return { documentId, kind: document.kind };
  }

  async find(documentId: string): Promise<ArchivedDocument | undefined> {
    return (await this.findAll([documentId])).get(documentId);
  }

  async findAll(documentIds: readonly string[]): Promise<Map<string, ArchivedDocument>> {
    const found = new Map<string, ArchivedDocument>();
    for (const id of documentIds) {
      const document = this.documents.get(id);
      if (document) found.set(id, { ...document, receivedAt: new Date(document.receivedAt) });
    }
    return found;
  }
}
