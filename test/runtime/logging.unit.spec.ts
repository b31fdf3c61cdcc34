import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/app.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { createLogger, type LogFormat } from '../../src/observability/logger.ts';

// The config cases belong with the others in test/config/config.unit.spec.ts.
describe('LOG_FORMAT', () => {
  it('is JSON lines by default', () => {
    expect(loadConfig({}, '/srv').logFormat).toBe('json');
  });

  it('is pretty when asked', () => {
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, '/srv').logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: '' }, '/srv').logFormat).toBe('json');
  });

  it('refuses any other value, naming the variable', () => {
    expect(() => loadConfig({ LOG_FORMAT: 'text' }, '/srv')).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'text' }, '/srv')).toThrow(/LOG_FORMAT: /);
  });
});

describe('the API’s log', () => {
  async function logOfOneRequest(level: string, format: LogFormat = 'json') {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger(level, format, destination);
    const app = await buildApi({
      logger,
      readiness: async () => ({
        ready: true,
        database: { reachable: true, expectedSchemaVersion: 1 },
        projections: [],
      }),
    });
    app.get('/thing', async (request) => {
      request.log.info('a route says something');
      return { ok: true };
    });
    expect((await app.inject({ method: 'GET', url: '/thing' })).statusCode).toBe(200);
    await app.close();
    await nextTurn();
    return lines;
  }

  it('logs requests received and answered at debug, not info', async () => {
    const atInfo = (await logOfOneRequest('info')).map((line) => JSON.parse(line));
    expect(atInfo.map((line) => line.msg)).toEqual(['a route says something']);

    const atDebug = (await logOfOneRequest('debug')).map((line) => JSON.parse(line));
    expect(atDebug.map((line) => [line.level, line.msg])).toEqual([
      [20, 'incoming request'],
      [30, 'a route says something'],
      [20, 'request completed'],
    ]);
    expect(atDebug[0].req).toMatchObject({ method: 'GET', url: '/thing' });
    expect(atDebug[2].res).toEqual({ statusCode: 200 });
  });

  it('writes readable lines when pretty', async () => {
    const lines = await logOfOneRequest('info', 'pretty');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[[\d:.]+\] INFO.*: a route says something/);
  });
});
