import { createHash } from 'node:crypto';

/**
 * How a signed document (a compact JWS) is archived without repeating its headers.
 *
 * An App Store notification is about 15 kB, and two thirds of it is one header, three
 * times over: the notification's own, and those of the transaction and renewal JWSs signed
 * inside its payload, each carrying the same certificate chain. The stored form keeps each
 * header once, in `jws_headers` by its SHA-256, and the payload decoded (a quarter smaller
 * than base64), with each nested JWS's header replaced by a reference:
 *
 *     <header digest>.<signature>.<payload JSON, nested headers as \u0001<digest>\u0001>
 *
 * About 1.8 kB instead of 15 for our test notifications: it fits in the row, where the
 * verbatim document took eight TOAST chunks. The stored form is made only when restoring
 * it gives back the document byte for byte, checked every time, so what is archived is
 * always the document the store signed.
 */
export interface SharedHeadersForm {
  readonly stored: string;
  /** The headers it refers to, by digest. */
  readonly headers: ReadonlyMap<string, string>;
}

const REFERENCE = '\u0001';
const JWS = /^([\w-]+)\.([\w-]+)\.([\w-]*)$/;
/**
 * A compact JWS as a JSON string value, its header a JSON object (base64url `eyJ` is `{"`)
 * long enough that a digest in its place is shorter: a product id such as
 * "com.example.pulse" has three dotted parts too.
 */
const NESTED_JWS = /"(eyJ[\w-]{61,})\.[\w-]+\.[\w-]*"/g;
const REFERENCES = /\u0001([0-9a-f]{64})\u0001/g;

/** The stored form of a compact JWS, or undefined when the document is stored verbatim. */
export function shareHeaders(jws: string): SharedHeadersForm | undefined {
  const parts = JWS.exec(jws);
  if (!parts) return undefined;
  const [header, encodedPayload, signature] = [parts[1]!, parts[2]!, parts[3]!];
  const payload = Buffer.from(encodedPayload, 'base64url').toString('utf8');
  if (payload.includes(REFERENCE)) return undefined;
  const headers = new Map<string, string>([[digestOf(header), header]]);
  let withReferences = '';
  let copied = 0;
  for (const nested of payload.matchAll(NESTED_JWS)) {
    const nestedHeader = nested[1]!;
    const digest = digestOf(nestedHeader);
    headers.set(digest, nestedHeader);
    const start = nested.index + 1;
    withReferences += `${payload.slice(copied, start)}${REFERENCE}${digest}${REFERENCE}`;
    copied = start + nestedHeader.length;
  }
  withReferences += payload.slice(copied);
  const form = { stored: `${digestOf(header)}.${signature}.${withReferences}`, headers };
  return restoreHeaders(form.stored, headers) === jws ? form : undefined;
}

/** The digests of the headers a stored form refers to. */
export function referencedHeaders(stored: string): string[] {
  const outer = stored.slice(0, stored.indexOf('.'));
  return [outer, ...Array.from(stored.matchAll(REFERENCES), (m) => m[1]!)];
}

/** The document, byte for byte, from its stored form and the headers it refers to. */
export function restoreHeaders(stored: string, headers: ReadonlyMap<string, string>): string {
  const afterDigest = stored.indexOf('.');
  const afterSignature = stored.indexOf('.', afterDigest + 1);
  const segment = (digest: string) => {
    const header = headers.get(digest);
    if (header === undefined) throw new Error(`The archive has no JWS header ${digest}`);
    return header;
  };
  const payload = stored.slice(afterSignature + 1).replace(REFERENCES, (_, digest: string) => segment(digest));
  const signature = stored.slice(afterDigest + 1, afterSignature);
  return `${segment(stored.slice(0, afterDigest))}.${Buffer.from(payload, 'utf8').toString('base64url')}.${signature}`;
}

function digestOf(header: string): string {
  return createHash('sha256').update(header, 'latin1').digest('hex');
}
