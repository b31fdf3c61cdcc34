// @peculiar/x509 2.x resolves its algorithms through tsyringe, which needs a Reflect
// metadata polyfill loaded before the library is evaluated: keep this import first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * A local stand-in for Apple's signing PKI, so tests and `subledger apple-dev` can
 * produce notifications and transactions that Apple's own `SignedDataVerifier`
 * accepts when it trusts the generated root instead of Apple Root CA - G3.
 * Keys live only in memory (or wherever a caller chooses to export them): nothing
 * private is ever committed.
 */

/** Marker extension Apple puts on its App Store receipt-signing leaf certificates. */
export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';
/** Marker extension Apple puts on its WWDR intermediate certificates. */
export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';

export interface AppleTestLeafOptions {
  /** Default true. False gives a leaf the verifier must refuse (no Apple marker OID). */
  appleOid?: boolean;
  /** A leaf whose validity ended yesterday (refused unless the payload's signedDate predates it). */
  expired?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

export interface AppleTestCaOptions {
  /** Goes into every subject, so two CAs (e.g. a trusted and a rogue one) are easy to tell apart. */
  name?: string;
  /** Options for the default `signer`'s leaf. */
  leaf?: AppleTestLeafOptions;
}

/** What a signer can be persisted as (base64 DER chain and base64 PKCS#8 key); keep it out of git. */
export interface ExportedAppleTestSigner {
  x5c: string[];
  privateKeyPkcs8: string;
}

export interface AppleTestSigner {
  /** base64 DER [leaf, intermediate, root], exactly as it goes into the JWS header. */
  readonly x5c: readonly string[];
  /** Compact JWS (ES256, x5c header) over the JSON of `payload`, as the App Store signs. */
  sign(payload: object): Promise<string>;
  export(): Promise<ExportedAppleTestSigner>;
}

export interface AppleTestCa {
  /** DER of the root: what `new SignedDataVerifier([rootDer], ...)` is told to trust. */
  rootDer: Buffer;
  rootPem: string;
  /** A well-formed leaf under this CA's intermediate. */
  signer: AppleTestSigner;
  /** Issues another leaf under the same intermediate, e.g. a bad one for a negative test. */
  issueSigner(options?: AppleTestLeafOptions): Promise<AppleTestSigner>;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
// Passed explicitly so certificate generation never depends on @peculiar/x509's global provider.
const cryptoImpl = webcrypto;
const subtle = webcrypto.subtle;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;
// Apple's marker extensions carry an ASN.1 NULL; the verifier only checks they are present.
const DER_NULL = new Uint8Array([0x05, 0x00]);

function generateKeys(): Promise<CryptoKeyPair> {
  // Extractable so a signer can be exported for the dev CLI; these are throwaway test keys.
  return subtle.generateKey(EC_KEY, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

const b64url = (data: string | ArrayBuffer) =>
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64url');

function makeSigner(x5c: string[], privateKey: CryptoKey): AppleTestSigner {
  return {
    x5c,
    async sign(payload) {
      // Same header shape as Apple's JWS: alg and the full chain, no kid/typ.
      const signingInput = `${b64url(JSON.stringify({ alg: 'ES256', x5c }))}.${b64url(JSON.stringify(payload))}`;
      // WebCrypto's ECDSA output is already JOSE's raw r||s form, not DER.
      const signature = await subtle.sign(ES256, privateKey, Buffer.from(signingInput));
      return `${signingInput}.${b64url(signature)}`;
    },
    async export() {
      const pkcs8 = await subtle.exportKey('pkcs8', privateKey);
      return { x5c: [...x5c], privateKeyPkcs8: Buffer.from(pkcs8).toString('base64') };
    },
  };
}

/** Rebuilds a signer exported earlier (the dev CLI keeps one between runs). */
export async function importAppleTestSigner(exported: ExportedAppleTestSigner): Promise<AppleTestSigner> {
  const key = await subtle.importKey('pkcs8', Buffer.from(exported.privateKeyPkcs8, 'base64'), EC_KEY, true, ['sign']);
  return makeSigner(exported.x5c, key);
}

const derBase64 = (cert: x509.X509Certificate) => Buffer.from(cert.rawData).toString('base64');

/** Generates root -> intermediate -> leaf, shaped like Apple's App Store signing chain. */
export async function createAppleTestCa(options: AppleTestCaOptions = {}): Promise<AppleTestCa> {
  const label = options.name ?? 'Subledger Test';
  const now = Date.now();
  // The CA predates its leaves (as Apple's does), so an expired leaf still lies within it.
  const caValidity = { notBefore: new Date(now - 3 * 365 * DAY), notAfter: new Date(now + 10 * 365 * DAY) };

  const rootKeys = await generateKeys();
  const rootName = `CN=${label} Apple Root CA, OU=Apple Certification Authority (test), O=${label}, C=US`;
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: rootName,
      keys: rootKeys,
      signingAlgorithm: ES256,
      ...caValidity,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, cryptoImpl),
      ],
    },
    cryptoImpl,
  );

  const intermediateKeys = await generateKeys();
  const intermediateName = `CN=${label} Apple Worldwide Developer Relations CA, OU=G6 (test), O=${label}, C=US`;
  const intermediate = await x509.X509CertificateGenerator.create(
    {
      subject: intermediateName,
      issuer: root.subject,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: ES256,
      ...caValidity,
      extensions: [
        // The verifier requires `ca` on the intermediate (Node's X509Certificate.ca).
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey, false, cryptoImpl),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey, false, cryptoImpl),
        new x509.Extension(APPLE_INTERMEDIATE_OID, false, DER_NULL),
      ],
    },
    cryptoImpl,
  );

  const issueSigner = async (leaf: AppleTestLeafOptions = {}): Promise<AppleTestSigner> => {
    const leafKeys = await generateKeys();
    const issued = Date.now();
    const validity = leaf.expired
      ? { notBefore: new Date(issued - 400 * DAY), notAfter: new Date(issued - DAY) }
      : { notBefore: new Date(issued - DAY), notAfter: new Date(issued + 365 * DAY) };
    const cert = await x509.X509CertificateGenerator.create(
      {
        subject: `CN=${label} App Store Receipt Signing, OU=Apple Worldwide Developer Relations (test), O=${label}, C=US`,
        issuer: intermediate.subject,
        publicKey: leafKeys.publicKey,
        signingKey: intermediateKeys.privateKey,
        signingAlgorithm: ES256,
        notBefore: leaf.notBefore ?? validity.notBefore,
        notAfter: leaf.notAfter ?? validity.notAfter,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, cryptoImpl),
          await x509.AuthorityKeyIdentifierExtension.create(intermediateKeys.publicKey, false, cryptoImpl),
          ...(leaf.appleOid === false ? [] : [new x509.Extension(APPLE_LEAF_OID, false, DER_NULL)]),
        ],
      },
      cryptoImpl,
    );
    return makeSigner([derBase64(cert), derBase64(intermediate), derBase64(root)], leafKeys.privateKey);
  };

  return {
    rootDer: Buffer.from(root.rawData),
    rootPem: root.toString('pem'),
    signer: await issueSigner(options.leaf),
    issueSigner,
  };
}
