// @peculiar/x509 resolves its algorithms through tsyringe, which needs this polyfill first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { APPLE_INTERMEDIATE_OID, APPLE_LEAF_OID, type AppleTestSigner } from '../../src/dev/apple/test-signer.ts';

/**
 * Like createAppleTestCa (src/dev/apple/test-signer.ts), but the leaf and the
 * intermediate name an OCSP responder, as Apple's do. With online checks on, Apple's
 * library asks that responder about both before it accepts a signature: point it at a
 * responder that fails to see what Subledger does when Apple's OCSP is down.
 */
export interface AppleOcspTestCa {
  readonly rootPem: string;
  /** Signs as the App Store does: ES256, x5c [leaf, intermediate, root]. */
  readonly signer: AppleTestSigner;
}

const subtle = webcrypto.subtle;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
const DER_NULL = new Uint8Array([0x05, 0x00]);
const b64url = (data: string | ArrayBuffer) =>
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64url');
const der = (cert: x509.X509Certificate) => Buffer.from(cert.rawData).toString('base64');

export async function createAppleOcspTestCa(ocspUrl: string): Promise<AppleOcspTestCa> {
  const keys = () => subtle.generateKey(EC_KEY, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const [rootKeys, intermediateKeys, leafKeys] = await Promise.all([keys(), keys(), keys()]);
  const validity = { notBefore: new Date(Date.now() - 365 * DAY), notAfter: new Date(Date.now() + 365 * DAY) };
  const ocsp = new x509.AuthorityInfoAccessExtension({ ocsp: ocspUrl });

  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: 'CN=OCSP Test Apple Root CA, O=Subledger test, C=US',
      keys: rootKeys,
      signingAlgorithm: ES256,
      ...validity,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    webcrypto,
  );
  const intermediate = await x509.X509CertificateGenerator.create(
    {
      subject: 'CN=OCSP Test Apple Worldwide Developer Relations CA, O=Subledger test, C=US',
      issuer: root.subject,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: ES256,
      ...validity,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.Extension(APPLE_INTERMEDIATE_OID, false, DER_NULL),
        ocsp,
      ],
    },
    webcrypto,
  );
  const leaf = await x509.X509CertificateGenerator.create(
    {
      subject: 'CN=OCSP Test App Store Receipt Signing, O=Subledger test, C=US',
      issuer: intermediate.subject,
      publicKey: leafKeys.publicKey,
      signingKey: intermediateKeys.privateKey,
      signingAlgorithm: ES256,
      ...validity,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.Extension(APPLE_LEAF_OID, false, DER_NULL),
        ocsp,
      ],
    },
    webcrypto,
  );
  const x5c = [der(leaf), der(intermediate), der(root)];
  return {
    rootPem: root.toString('pem'),
    signer: {
      x5c,
      async sign(payload) {
        const input = `${b64url(JSON.stringify({ alg: 'ES256', x5c }))}.${b64url(JSON.stringify(payload))}`;
        return `${input}.${b64url(await subtle.sign(ES256, leafKeys.privateKey, Buffer.from(input)))}`;
      },
      async export() {
        const pkcs8 = await subtle.exportKey('pkcs8', leafKeys.privateKey);
        return { x5c: [...x5c], privateKeyPkcs8: Buffer.from(pkcs8).toString('base64') };
      },
    },
  };
}
