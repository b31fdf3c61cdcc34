/**
 * The payload of a compact JWS, decoded without checking its signature: for
 * routing a payload to the verifier that will check it, and for reading documents
 * that were verified when they were accepted. Undefined when it is not a JWS.
 */
export function decodeJwsPayload(jws: string): unknown {
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
