import { runCli } from './run.ts';

// The real process: its arguments, environment and streams; its exit code is the command's.
const terminal = (stream: NodeJS.WriteStream) => (stream.isTTY ? stream : undefined);
const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  terminals: { stdout: terminal(process.stdout), stderr: terminal(process.stderr) },
});
process.exit(code);
