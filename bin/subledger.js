#!/usr/bin/env node
// Node 24 runs the TypeScript CLI as it is (type stripping): no build step, no loader.
// npm and npx put the project's own Node 24 (the `node` package) first on the PATH.
import module from 'node:module';

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`subledger needs Node 24 or newer (this is ${process.version}): run it with npx subledger or npm run`);
  process.exit(1);
}
// Node keeps what it compiled (our TypeScript, types stripped, and the libraries) in the
// temporary folder (or NODE_COMPILE_CACHE) for the next run, which then starts about twice
// as fast. A cache that cannot be written only means a slower start; NODE_DISABLE_COMPILE_CACHE=1
// turns it off.
module.enableCompileCache();
await import('../src/cli/main.ts');
