import { Miniflare } from 'miniflare';
import { bundleWorker } from '../../edge/build.ts';

/** The Worker's bundle, built once per test worker process. */
let bundle: Promise<string> | undefined;

export interface EdgeWorker {
  /** Asks the Worker, as a client of the CDN would. */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  dispose(): Promise<void>;
}

/**
 * The edge Worker, bundled as it is deployed, running in workerd (Cloudflare's open-source
 * Workers runtime) through Miniflare, with the Workers cache. `vars` are its settings, as
 * a wrangler.toml or the dashboard would give them.
 */
export async function startEdgeWorker(vars: Record<string, string>): Promise<EdgeWorker> {
  bundle ??= bundleWorker();
  const worker = new Miniflare({
    modules: true,
    script: await bundle,
    compatibilityDate: '2026-04-01',
    bindings: vars,
  });
  await worker.ready;
  return {
    get: async (path, headers = {}) =>
      (await worker.dispatchFetch(`https://cdn.example.test${path}`, { headers })) as unknown as Response,
    dispose: () => worker.dispose(),
  };
}
