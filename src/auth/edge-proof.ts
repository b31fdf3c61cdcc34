import { refusalFamily, type KindOfCode } from '../domain/refusal.ts';

/**
 * An edge's proof that it verified a caller's scoped token: an HMAC-SHA256, with a
 * secret the edge and the origin share, over the request and the scope the edge saw.
 * The origin then answers for that scope without the token, so the edge can key its
 * cache on the scope (one copy per scope, not per token) and never forwards tokens.
 *
 * `Subledger-Edge-Proof: v1 <key id> <expires, Unix seconds> <base64url HMAC>`, with the
 * scope in `X-Entitlement-Scope` (sorted, space-separated; empty: anonymous). Two keys
 * can be live at once, so the secret rotates without a moment when proofs fail.
 * WebCrypto only: the same module runs in Node and in an edge runtime.
 */
export const EDGE_PROOF_HEADER = 'subledger-edge-proof';
export const EDGE_SCOPE_HEADER = 'x-entitlement-scope';
/** A proof says when it expires; one that claims longer than this is refused. */
export const MAX_PROOF_LIFETIME_SECONDS = 300;

export interface EdgeProofKey {
  readonly id: string;
  readonly secret: string;
}

export interface ProvenRequest {
  readonly method: string;
  /** Path and query, as the origin receives them. */
  readonly url: string;
  readonly scope: readonly string[];
}

export type EdgeProofRefusalCode = 'edge_proof_invalid' | 'edge_proof_expired' | 'edge_proof_required';

const KIND_OF: KindOfCode<EdgeProofRefusalCode> = {
  edge_proof_invalid: 'unauthenticated',
  edge_proof_expired: 'unauthenticated',
  edge_proof_required: 'unauthenticated',
};

export class EdgeProofRefused extends refusalFamily(KIND_OF) {}

/** The scope as the proof covers it: sorted, without repeats. */
export function canonicalScope(scope: readonly string[]): string[] {
  return [...new Set(scope)].filter(Boolean).sort();
}

export async function signEdgeProof(key: EdgeProofKey, request: ProvenRequest, expiresAt: number): Promise<string> {
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(key.secret), signedText(key.id, expiresAt, request));
  return `v1 ${key.id} ${expiresAt} ${toBase64url(new Uint8Array(signature))}`;
}

/** Resolves when `proof` is a live proof of `request` by one of `keys`; refuses otherwise. */
export async function verifyEdgeProof(
  keys: readonly EdgeProofKey[],
  proof: string,
  request: ProvenRequest,
  now: Date,
): Promise<void> {
  const [version, keyId, expires, signature, ...rest] = proof.trim().split(/\s+/);
  const key = keys.find((k) => k.id === keyId);
  const expiresAt = Number(expires);
  if (version !== 'v1' || !key || !Number.isInteger(expiresAt) || !signature || rest.length > 0) {
    throw new EdgeProofRefused('edge_proof_invalid', 'The edge proof is not one this origin can check');
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (expiresAt <= nowSeconds) throw new EdgeProofRefused('edge_proof_expired', 'The edge proof has expired');
  const bytes = fromBase64url(signature);
  const genuine =
    expiresAt <= nowSeconds + MAX_PROOF_LIFETIME_SECONDS &&
    bytes !== undefined &&
    (await crypto.subtle.verify('HMAC', await hmacKey(key.secret), bytes, signedText(key.id, expiresAt, request)));
  if (!genuine) {
    throw new EdgeProofRefused('edge_proof_invalid', 'The edge proof does not match this request and scope');
  }
}

function signedText(keyId: string, expiresAt: number, { method, url, scope }: ProvenRequest): Uint8Array {
  const text = ['v1', keyId, String(expiresAt), method.toUpperCase(), url, canonicalScope(scope).join(' ')].join('\n');
  return new TextEncoder().encode(text);
}

/** Imported once per secret: a proof is checked on every edge-proven request. */
const importedKeys = new Map<string, ReturnType<typeof importHmacKey>>();

function hmacKey(secret: string): ReturnType<typeof importHmacKey> {
  let key = importedKeys.get(secret);
  if (!key) importedKeys.set(secret, (key = importHmacKey(secret)));
  return key;
}

function importHmacKey(secret: string) {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
}

function toBase64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  return Uint8Array.from(atob(text.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
}
