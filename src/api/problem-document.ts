/**
 * The body of every error Subledger answers, at the origin and at its edges: RFC 9457
 * problem details with a stable, machine-readable `code`. No imports: the edge bundles it.
 */
export function problemDocument(
  status: number,
  code: string,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
) {
  return {
    type: `https://subledger.dev/problems/${code}`,
    title: code.replaceAll('_', ' '),
    status,
    code,
    detail,
    ...extensions,
  };
}
