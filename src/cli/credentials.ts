import type { Command } from 'commander';
import { API_KEY_ROLES, ApiKeys, type ApiKeyRole } from '../auth/api-keys.ts';
import { lines, type CliIo } from './io.ts';
import { withCliServices } from './services.ts';
import { systemClock } from '../runtime/system-clock.ts';

/** `subledger api-keys`: secret keys for servers (`app-server`) and support tools (`admin`). */
export function registerApiKeyCommands(program: Command, io: CliIo): void {
  const { out, err } = lines(io);
  const keys = program.command('api-keys').description('Create, list and revoke API keys for servers and tools');

  keys
    .command('create')
    .description('Create a key and print its secret (shown this once; only its hash is kept)')
    .requiredOption('--name <name>', 'who or what uses it')
    .option('--role <role>', `one of ${API_KEY_ROLES.join(', ')}`, 'app-server')
    .action((options: { name: string; role: string }) =>
      withCliServices(io, async ({ pool }) => {
        if (!API_KEY_ROLES.includes(options.role as ApiKeyRole)) {
          throw new Error(`--role must be one of ${API_KEY_ROLES.join(', ')}`);
        }
        const { key, secret } = await new ApiKeys(pool).create(options.name, options.role as ApiKeyRole);
        out(secret);
        err(`Key ${key.keyId} (${key.role}) for ${key.name}. Keep the secret above; it is not shown again.`);
      }),
    );

  keys
    .command('list')
    .description('List keys (never their secrets)')
    .action(() =>
      withCliServices(io, async ({ pool }) => {
        for (const k of await new ApiKeys(pool).list()) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'live';
          out(`${k.keyId}\t${k.role}\t${k.name}\t${state}`);
        }
      }),
    );

  keys
    .command('revoke')
    .argument('<keyId>')
    .description('Revoke a key at once')
    .action((keyId: string) =>
      withCliServices(io, async ({ pool }) => {
        if (!(await new ApiKeys(pool).revoke(keyId))) throw new Error(`No live key ${keyId}`);
        out(`Revoked ${keyId}.`);
      }),
    );
}

/** `subledger dev-token <appUserId>`: an app-user token for local development (AUTH_DEV_TOKENS=on). */
export function registerDevTokenCommand(program: Command, io: CliIo): void {
  const { out } = lines(io);
  program
    .command('dev-token')
    .description('Mint an app-user access token for local development (needs AUTH_DEV_TOKENS=on)')
    .argument('<appUserId>')
    .option('--expires-in <seconds>', 'lifetime in seconds', '3600')
    .action((appUserId: string, options: { expiresIn: string }) =>
      withCliServices(io, async ({ config, pool }) => {
        if (!config.devTokens)
          throw new Error('Set AUTH_DEV_TOKENS=on (for the service too) to use development tokens');
        const { DevTokens } = await import('../auth/dev-tokens.ts');
        out(await new DevTokens(pool, systemClock).mint(appUserId, Number(options.expiresIn)));
      }),
    );
}
