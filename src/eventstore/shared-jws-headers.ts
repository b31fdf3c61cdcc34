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
const BASE64URL = /^[\w-]+$/;
/**
 * Where a nested JWS starts: a JSON string whose first part is a JSON object's base64url
 * (`eyJ` is `{"`). It is shared when that part is long enough to be worth a reference (66
 * characters), and the string has three parts: a product id such as "com.example.pulse" has
 * three dotted parts too.
 */
const NESTED_JWS_START = '"eyJ';
const MIN_SHARED_HEADER = 128;
const REFERENCES = /\u0001([0-9a-f]{64})\u0001/g;

/** The stored form of a compact JWS, or undefined when the document is stored verbatim. */
export function shareHeaders(jws: string): SharedHeadersForm | undefined {
  // Three base64url parts, split with indexOf: a regular expression over the whole 15 kB
  // takes 12 µs. The payload needs no check: the form is kept only if it restores the JWS.
  const firstDot = jws.indexOf('.');
  const lastDot = jws.lastIndexOf('.');
  if (firstDot < 1 || jws.indexOf('.', firstDot + 1) !== lastDot) return undefined;
  const header = jws.slice(0, firstDot);
  const encodedPayload = jws.slice(firstDot + 1, lastDot);
  const signature = jws.slice(lastDot + 1);
  if (!BASE64URL.test(header) || !(signature === '' || BASE64URL.test(signature))) return undefined;
  const payload = Buffer.from(encodedPayload, 'base64url').toString('utf8');
  if (payload.includes(REFERENCE)) return undefined;
  // Digests by header, found by comparing (a Map would hash each 3 kB header to look it up).
  const digests: { segment: string; digest: string }[] = [];
  const reference = (segment: string) => {
    let known = digests.find((d) => d.segment === segment);
    if (!known) digests.push((known = { segment, digest: digestOf(segment) }));
    return known.digest;
  };
  const outer = reference(header);
  // Found with indexOf: a regular expression over the 11 kB payload took 27 µs here.
  let withReferences = '';
  let copied = 0;
  for (let start = payload.indexOf(NESTED_JWS_START); start !== -1;) {
    const end = payload.indexOf('"', start + 1);
    if (end === -1) break;
    const firstDot = payload.indexOf('.', start);
    const secondDot = firstDot === -1 ? -1 : payload.indexOf('.', firstDot + 1);
    const threeParts = secondDot !== -1 && secondDot < end && payload.lastIndexOf('.', end) === secondDot;
    if (threeParts && firstDot - start - 1 >= MIN_SHARED_HEADER) {
      const nestedHeader = payload.slice(start + 1, firstDot);
      withReferences += `${payload.slice(copied, start + 1)}${REFERENCE}${reference(nestedHeader)}${REFERENCE}`;
      copied = firstDot;
    }
    start = payload.indexOf(NESTED_JWS_START, end + 1);
  }
  withReferences += payload.slice(copied);
  const headers = new Map(digests.map(({ segment, digest }) => [digest, segment]));
  const form = { stored: `${outer}.${signature}.${withReferences}`, headers };
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
