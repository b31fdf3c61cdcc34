import CachePolicy from 'http-cache-semantics';

export interface CacheAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Answered from a stored response, without asking the service. */
  readonly fromCache: boolean;
}

interface Stored {
  readonly policy: CachePolicy;
  readonly status: number;
  readonly body: string;
}

/**
 * A shared cache (a CDN or reverse proxy with no edge logic of ours) in front of a
 * service, behaving as http-cache-semantics, the library Node's shared caches use,
 * says it may: a stored response is reused when its policy is satisfied without
 * revalidation (same URL, the request headers its Vary names, still fresh); anything
 * else goes to the service over HTTP, and the answer is stored when `storable()` for
 * a shared cache. No revalidation: a stale entry is simply fetched again.
 */
export class SharedCache {
  private readonly entries = new Map<string, Stored[]>();
  private readonly host: string;

  private readonly origin: string;

  constructor(origin: string) {
    this.origin = origin;
    this.host = new URL(origin).host;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<CacheAnswer> {
    const request = { url: path, method: 'GET', headers: { ...headers, host: this.host } };
    for (const entry of this.entries.get(path) ?? []) {
      if (entry.policy.satisfiesWithoutRevalidation(request)) {
        const cached = entry.policy.responseHeaders() as Record<string, string>;
        return { status: entry.status, headers: cached, body: entry.body, fromCache: true };
      }
    }
    const response = await fetch(`${this.origin}${path}`, { headers });
    const answer = {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: await response.text(),
    };
    // http-cache-semantics never stores a 403 (not a status it "understands"), but CDNs that
    // honour Cache-Control on any status do: the model stores it as they would, which is the
    // harsher test for the paywall answer. (403 is not heuristically cacheable, and the service
    // sends no Last-Modified, so without an explicit Cache-Control the stored copy is never fresh.)
    const asStatus = answer.status === 403 ? 200 : answer.status;
    const policy = new CachePolicy(request, { status: asStatus, headers: answer.headers }, { shared: true });
    if (policy.storable()) {
      this.entries.set(path, [{ policy, status: answer.status, body: answer.body }, ...(this.entries.get(path) ?? [])]);
    }
    return { ...answer, fromCache: false };
  }
}
