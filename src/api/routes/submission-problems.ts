import type { FastifyReply } from 'fastify';
import { SubmissionRefused } from '../../ingest/submissions.ts';
import { sendProblem } from '../problems.ts';

/** A refused app submission (any store) as a problem: 409 for another user's purchase, 422 otherwise; false for any other error. */
export function sendSubmissionRefusal(reply: FastifyReply, error: unknown): FastifyReply | false {
  if (!(error instanceof SubmissionRefused)) return false;
  const status = error.code === 'purchase_belongs_to_another_user' ? 409 : 422;
  return sendProblem(reply, status, error.code, error.message);
}
