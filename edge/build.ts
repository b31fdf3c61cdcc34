import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { edgeSettings } from './src/settings.ts';

/**
 * Bundles the edge's two deployable forms, each one file with no imports:
 *   dist/cloudflare-worker.js   the Worker (settings from its vars and secrets)
 *   dist/lambda-edge.mjs        Lambda@Edge handlers (settings baked in: Lambda@Edge
 *                               has no environment variables)
 *
 *   npm run build -w edge                          the Worker
 *   EDGE_SETTINGS=settings.json npm run build -w edge   and the Lambda@Edge bundle
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));

export async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(HERE, 'src/cloudflare-worker.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: false,
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}

/** Settings as in edge/src/settings.ts (ORIGIN_URL, EDGE_PROOF_KEY, ...), checked before they are baked in. */
export async function bundleLambdaEdge(settings: Readonly<Record<string, string>>): Promise<string> {
  edgeSettings(settings);
  const result = await build({
    entryPoints: [path.join(HERE, 'src/lambda-edge-bundle.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    define: { EDGE_SETTINGS: JSON.stringify(settings) },
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await mkdir(path.join(HERE, 'dist'), { recursive: true });
  await writeFile(path.join(HERE, 'dist/cloudflare-worker.js'), await bundleWorker());
  console.log('edge/dist/cloudflare-worker.js');
  if (process.env.EDGE_SETTINGS) {
    const settings = JSON.parse(await readFile(process.env.EDGE_SETTINGS, 'utf8')) as Record<string, string>;
    await writeFile(path.join(HERE, 'dist/lambda-edge.mjs'), await bundleLambdaEdge(settings));
    console.log('edge/dist/lambda-edge.mjs');
  }
}
