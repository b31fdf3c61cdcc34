import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';

/**
 * Bundles each store webhook into a Lambda package of its own, one ES module with every
 * dependency inside (the AWS SDK too: the runtime's copy is not relied on), with what it
 * reads at run time beside it:
 *
 *   dist/lambda/apple-webhook/index.mjs     handler: index.handler
 *   dist/lambda/apple-webhook/catalog/…     the catalog (CATALOG_PATH at build time)
 *   dist/lambda/apple-webhook/certs/apple/… Apple's root (APPLE_TRUSTED_ROOTS' default)
 *   dist/lambda/google-webhook/…            the same, without Apple's root
 *
 *   node src/lambda/build.ts        (zip each folder's content to deploy it)
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const LAMBDA_FUNCTIONS = {
  'apple-webhook': { entry: 'src/lambda/apple-webhook.ts', appleRoots: true },
  'google-webhook': { entry: 'src/lambda/google-webhook.ts', appleRoots: false },
} as const;

export type LambdaFunctionName = keyof typeof LAMBDA_FUNCTIONS;

export interface BuiltFunction {
  readonly name: LambdaFunctionName;
  /** The folder to zip. */
  readonly dir: string;
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** The packages bundled in, by name. */
  readonly packages: readonly string[];
  /** CATALOG_PATH for the function: the catalog's place in the package. */
  readonly catalogPath: string;
}

/**
 * ES modules bundled from CommonJS packages (pg, pino, Apple's library) call `require` for
 * Node's own modules: give them a real one.
 */
const REQUIRE_BANNER =
  "import { createRequire as __subledgerCreateRequire } from 'node:module';\n" +
  'const require = __subledgerCreateRequire(import.meta.url);';

/**
 * Node's modules through `require`, never `import` (static or dynamic): Node makes an ES
 * module facade of a built-in by reading every export, and `node:http`'s include lazy getters
 * that load undici, tens of milliseconds of a cold start for nothing.
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) =>
      (args.kind === 'import-statement' || args.kind === 'dynamic-import') && isBuiltin(args.path)
        ? { path: args.path, namespace: 'builtin-through-require' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * Code a webhook never runs, left out because a cold start parses and runs all it loads:
 * zod's messages in 40 languages (its English ones, the default, stay), and the URL parser
 * node-fetch 2 (Apple's library) keeps for runtimes without one (it takes Node's `URL`; the
 * parser's Unicode tables also print a deprecation warning for `punycode`). With the plugin
 * above: 540 KB less of the App Store bundle, some 65 ms less to load it
 * (bench/lambda-cold-start.ts, with and without them).
 */
const leftOut: Plugin = {
  name: 'left-out',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: 'js',
    }));
    build.onResolve({ filter: /^whatwg-url$/ }, (args) =>
      /[\\/]node_modules[\\/]node-fetch[\\/]/.test(args.importer)
        ? { path: 'whatwg-url', namespace: 'left-out' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

export async function buildLambdaFunctions(
  options: {
    readonly outDir?: string;
    readonly names?: readonly LambdaFunctionName[];
    /** The catalog to ship, relative to the repository or absolute. */
    readonly catalog?: string;
  } = {},
): Promise<BuiltFunction[]> {
  const outDir = path.resolve(ROOT, options.outDir ?? 'dist/lambda');
  const catalog = path.resolve(ROOT, options.catalog ?? 'catalog/sample-fitness.json');
  const built: BuiltFunction[] = [];
  for (const name of options.names ?? (Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionName[])) {
    const { entry, appleRoots } = LAMBDA_FUNCTIONS[name];
    const dir = path.join(outDir, name);
    await rm(dir, { recursive: true, force: true });
    const file = path.join(dir, 'index.mjs');
    const result = await build({
      entryPoints: [path.join(ROOT, entry)],
      outfile: file,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      // Packages' ES module builds first: the AWS SDK's tree-shake better than its CommonJS.
      mainFields: ['module', 'main'],
      minify: true,
      legalComments: 'eof',
      banner: { js: REQUIRE_BANNER },
      // pg's native binding, loaded only if asked for (it never is).
      external: ['pg-native'],
      plugins: [builtinsThroughRequire, leftOut],
      metafile: true,
      logLevel: 'warning',
    });
    const catalogPath = `catalog/${path.basename(catalog)}`;
    await mkdir(path.join(dir, 'catalog'), { recursive: true });
    await copyFile(catalog, path.join(dir, catalogPath));
    if (appleRoots) {
      const roots = path.join(ROOT, 'certs/apple');
      await mkdir(path.join(dir, 'certs/apple'), { recursive: true });
      for (const cer of (await readdir(roots)).filter((f) => f.endsWith('.cer'))) {
        await copyFile(path.join(roots, cer), path.join(dir, 'certs/apple', cer));
      }
    }
    const code = await readFile(file);
    built.push({
      name,
      dir,
      file,
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      packages: packagesOf(Object.keys(result.metafile.inputs)),
      catalogPath,
    });
  }
  return built;
}

/** `node_modules/@scope/name/…` and `node_modules/name/…` as package names, each once. */
function packagesOf(inputs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const input of inputs) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.slice(input.lastIndexOf('node_modules/')));
    if (match) names.add(match[1]!);
  }
  return [...names].sort();
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const catalog = process.env.CATALOG_PATH;
  for (const fn of await buildLambdaFunctions(catalog ? { catalog } : {})) {
    console.log(
      `${path.relative(ROOT, fn.file)}  ${kb(fn.bytes)} (${kb(fn.gzipBytes)} gzipped), ${fn.packages.length} packages; CATALOG_PATH=${fn.catalogPath}`,
    );
  }
}
