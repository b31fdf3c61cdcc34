import type { FastifyReply } from 'fastify';
import { AppleRejection, type AppleRejectionCode } from '../../ingest/apple/apple-verifier.ts';
import { ReceiptRejection, type ReceiptRejectionCode } from '../../ingest/apple/verify-receipt.ts';
import { sendProblem } from '../problems.ts';
import { sendSubmissionRefusal } from './submission-problems.ts';

/** 503 for a check that may pass later (Apple retries); 4xx, which Apple does not retry, for the rest. */
const STATUS_BY_REJECTION: Record<AppleRejectionCode, number> = {
  malformed_payload: 400,
  unknown_app: 422,
  unsupported_environment: 422,
  invalid_signature: 401,
  invalid_certificate: 401,
  wrong_app: 422,
  wrong_environment: 422,
  verification_unavailable: 503,
};

const STATUS_BY_RECEIPT_REJECTION: Record<ReceiptRejectionCode, number> = {
  invalid_receipt: 422,
  wrong_app: 422,
  // Our configuration is wrong, not the app's request.
  shared_secret_mismatch: 502,
  receipt_server_unavailable: 503,
};

/** Answers an Apple verification failure or refusal as a problem; false for any other error. */
export function sendAppleProblem(reply: FastifyReply, error: unknown): FastifyReply | false {
  if (error instanceof AppleRejection) {
    return sendProblem(reply, STATUS_BY_REJECTION[error.code], error.code, error.message);
  }
  if (error instanceof ReceiptRejection) {
    return sendProblem(reply, STATUS_BY_RECEIPT_REJECTION[error.code], error.code, error.message);
  }
  return sendSubmissionRefusal(reply, error);
}
