import { VerificationException, type VerificationStatus } from '@apple/app-store-server-library';
import { expect } from 'vitest';

/** The status Apple's verifier refused with; fails the test if it accepted. */
export async function refusal(verification: Promise<unknown>): Promise<VerificationStatus> {
  try {
    await verification;
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationException);
    return (error as VerificationException).status;
  }
  throw new Error('the verifier accepted material it should have refused');
}
