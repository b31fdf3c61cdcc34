#!/usr/bin/env node
// Node 24 runs the TypeScript CLI as it is (type stripping): no build step, no loader.
// npm and npx put the project's own Node 24 (the `node` package) first on the PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`subledger needs Node 24 or newer (this is ${process.version}): run it with npx subledger or npm run`);
  process.exit(1);
}
await import('../src/cli/main.ts');
