/** A content type's media type, lower case, without its parameters. */
export const mediaOf = (contentType: string): string => (contentType.toLowerCase().split(';')[0] ?? '').trim();

/** JSON (or a `+json` type), in UTF-8 or with no charset named: the only bodies Subledger reads. */
export function isJsonInUtf8(contentType: string): boolean {
  const [, ...parameters] = contentType.toLowerCase().split(';');
  const media = mediaOf(contentType);
  if (media !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(media)) return false;
  const charset = parameters
    .map((p) => p.trim().split('='))
    .find(([name]) => name === 'charset')?.[1]
    ?.replaceAll('"', '');
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}
