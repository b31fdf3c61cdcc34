import { verify, X509Certificate, type KeyObject } from 'node:crypto';
import { SignedDataVerifier, VerificationException, VerificationStatus } from '@apple/app-store-server-library';
import signatureFormats from 'ecdsa-sig-formatter';

/** Apple's library keeps a chain checked online for 15 minutes before asking OCSP again; so do we. */
const ONLINE_CHECK_TTL_MS = 15 * 60_000;
const MAX_CHAINS = 1_000;

interface VerifiedChain {
  readonly publicKey: KeyObject;
  /** When the leaf, intermediate and root are all valid. */
  readonly validFrom: number;
  readonly validTo: number;
  /** With online checks, when the revocation check must be made again. */
  readonly recheckAt: number;
}

/** The shape of the library's payload validators. */
interface Validator<T> {
  validate(value: unknown): value is T;
}

/**
 * Apple's `SignedDataVerifier`, remembering the certificate chains it has verified.
 *
 * Apple signs every notification, transaction and renewal info with the same few
 * certificates, and without online checks the library verifies the whole x5c chain
 * again for each of them (two X.509 parses, two certificate signatures, a PEM round
 * trip): most of the cost of accepting a notification. Here the first JWS with a given
 * header (algorithm and x5c chain, byte for byte) goes through Apple's full
 * verification; later ones with the identical header are checked for what can differ
 * between them (the payload's shape, its signature with the chain's verified key, and
 * the chain's validity at the payload's signedDate, or now with online checks) and the
 * library's public methods still make every claim check (bundle id, App Apple ID,
 * environment). Anything unusual falls back to the library.
 */
export class ChainCachingVerifier extends SignedDataVerifier {
  private readonly chains = new Map<string, VerifiedChain>();

  protected override async verifyJWT<T>(
    jwt: string,
    validator: Validator<T>,
    signedDateExtractor: (decoded: T) => Date,
  ): Promise<T> {
    const parts = jwt.split('.');
    // Only a compact JWS of exactly three parts is checked here; the library refuses others.
    const chain = parts.length === 3 ? this.chains.get(parts[0]!) : undefined;
    if (!chain || Date.now() >= chain.recheckAt) {
      const decoded = await super.verifyJWT(jwt, validator, signedDateExtractor);
      if (parts[0]) this.remember(parts[0], decoded, signedDateExtractor);
      return decoded;
    }
    const [header, payload, signature] = parts as [string, string, string];
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new VerificationException(VerificationStatus.FAILURE);
    }
    if (!validator.validate(decoded)) throw new VerificationException(VerificationStatus.FAILURE);
    const effective = (this.enableOnlineChecks ? new Date() : signedDateExtractor(decoded)).getTime();
    // Outside the chain's validity: let the library decide, and explain, as it does.
    if (!(effective >= chain.validFrom && effective <= chain.validTo)) {
      return super.verifyJWT(jwt, validator, signedDateExtractor);
    }
    if (!signedBy(chain.publicKey, `${header}.${payload}`, signature)) {
      throw new VerificationException(VerificationStatus.VERIFICATION_FAILURE);
    }
    return decoded;
  }

  private remember<T>(header: string, decoded: T, signedDateExtractor: (decoded: T) => Date): void {
    let x5c: string[];
    try {
      const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string; x5c?: string[] };
      if (parsed.alg !== 'ES256' || parsed.x5c?.length !== 3) return;
      x5c = parsed.x5c;
    } catch {
      return;
    }
    const [leaf, intermediate] = x5c.slice(0, 2).map((der) => new X509Certificate(Buffer.from(der, 'base64')));
    const root = this.rootCertificates.find((r) => intermediate!.verify(r.publicKey));
    // Xcode and LocalTesting data is returned unverified by the library: never remember those.
    if (!root || !leaf || !intermediate || !leaf.verify(intermediate.publicKey)) return;
    const certificates = [leaf, intermediate, root];
    const chain: VerifiedChain = {
      publicKey: leaf.publicKey,
      validFrom: Math.max(...certificates.map((c) => Date.parse(c.validFrom))),
      validTo: Math.min(...certificates.map((c) => Date.parse(c.validTo))),
      recheckAt: this.enableOnlineChecks ? Date.now() + ONLINE_CHECK_TTL_MS : Number.POSITIVE_INFINITY,
    };
    // Only a chain the library just accepted for this payload's date is remembered.
    const effective = (this.enableOnlineChecks ? new Date() : signedDateExtractor(decoded)).getTime();
    if (effective < chain.validFrom || effective > chain.validTo) return;
    if (this.chains.size >= MAX_CHAINS) this.chains.delete(this.chains.keys().next().value!);
    this.chains.set(header, chain);
  }
}

/**
 * Whether an ES256 JWS signature (r and s, 32 bytes each, base64url) is the key's over the
 * signing input. Node verifies that form when asked with `dsaEncoding: 'ieee-p1363'`, but an
 * options object and that encoding cost a third more than the key and a DER signature
 * (about 135 µs against 95 for a 15 kB notification here), and this is most of the CPU
 * spent accepting a notification.
 */
function signedBy(key: KeyObject, signingInput: string, signature: string): boolean {
  let der: Buffer;
  try {
    der = signatureFormats.joseToDer(signature, 'ES256');
  } catch {
    return false; // not 64 bytes: no ES256 signature
  }
  return verify('sha256', Buffer.from(signingInput), key, der);
}
