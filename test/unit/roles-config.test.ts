/** roles: in boxship.yml: what a valid entry becomes, its defaults, and every refusal with its position. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import { InputError } from '../../src/util/errors.js';
import { refusal } from '../helpers/config-refusal.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-roles-'));
const file = join(dir, 'boxship.yml');
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');

const HOSTS = ['hosts:', '  - root@10.0.0.5', '  - address: deploy@10.0.0.6:2222', '    instances: 2'];
const load = (...lines: string[]) => parseConfig(`${['service: hello', ...HOSTS, ...lines].join('\n')}\n`, file);

const problems = (...lines: string[]): Pick<Problem, 'line' | 'column' | 'path' | 'message'>[] =>
  refusal(() => load(...lines)).problems.map((p) => ({ line: p.line, column: p.column, path: p.path, message: p.message }));

describe('roles in boxship.yml', () => {
  it('no roles key: none (web, the app, is the only role)', () => {
    expect(load().roles).toBeUndefined();
  });

  it('converts a full entry and applies defaults to a minimal one (every host, 1 instance, still running after 5 s)', () => {
    const config = load(
      'roles:',
      '  worker:',
      '    cmd: node worker.js --queue jobs',
      '    hosts: [deploy@10.0.0.6:2222]',
      '    instances: 3',
      '    env: { QUEUE: jobs, CONCURRENCY: 4 }',
      '    proxy: false',
      '    healthcheck: { cmd: [node, worker.js, --check] }',
      '    stop_signal: INT',
      '  cron:',
      '    cmd: [node, cron.js]',
      '    healthcheck: { running_seconds: 12 }',
      '  mailer:',
      '    cmd: [node, mailer.js]',
    );
    expect(config.roles).toEqual([
      {
        name: 'worker',
        cmd: ['node', 'worker.js', '--queue', 'jobs'],
        hosts: ['deploy@10.0.0.6:2222'],
        instances: 3,
        env: { QUEUE: 'jobs', CONCURRENCY: '4' },
        health: { kind: 'cmd', cmd: ['node', 'worker.js', '--check'] },
        stopSignal: 'SIGINT',
      },
      {
        name: 'cron',
        cmd: ['node', 'cron.js'],
        hosts: ['root@10.0.0.5', 'deploy@10.0.0.6:2222'],
        instances: 1,
        env: {},
        health: { kind: 'running', seconds: 12 },
      },
      {
        name: 'mailer',
        cmd: ['node', 'mailer.js'],
        hosts: ['root@10.0.0.5', 'deploy@10.0.0.6:2222'],
        instances: 1,
        env: {},
        health: { kind: 'running', seconds: 5 },
      },
    ]);
  });

  it('refuses web (the app itself) and names that could not be container names', () => {
    expect(problems('roles:', '  web: { cmd: [node, server.js] }')).toEqual([
      { line: 7, column: 3, path: 'roles.web', message: expect.stringContaining('expected a role name other than web') },
    ]);
    expect(problems('roles:', '  Worker_1: { cmd: [node, w.js] }')).toEqual([
      { line: 7, column: 3, path: 'roles.Worker_1', message: expect.stringContaining('expected a role name: lowercase letters, digits and -') },
    ]);
  });

  it('refuses a missing cmd, a host not in hosts:, both health checks, and a proxied role (not in this version)', () => {
    expect(problems('roles:', '  worker: { instances: 2 }')).toEqual([{ line: 7, column: 11, path: 'roles.worker.cmd', message: 'required key is missing' }]);
    expect(problems('roles:', '  worker:', '    cmd: [node, w.js]', '    hosts: [10.0.0.9]')).toEqual([
      { line: 9, column: 13, path: 'roles.worker.hosts[0]', message: '"10.0.0.9" is not one of hosts:' },
    ]);
    expect(problems('roles:', '  worker:', '    cmd: [node, w.js]', '    healthcheck: { cmd: [ls], running_seconds: 3 }')).toEqual([
      { line: 9, column: 48, path: 'roles.worker.healthcheck.running_seconds', message: expect.stringContaining('cmd and running_seconds are both set') },
    ]);
    const proxied = refusal(() => load('roles:', '  worker:', '    cmd: [node, w.js]', '    proxy: true'));
    expect(proxied.problems).toEqual([
      expect.objectContaining({
        line: 9,
        path: 'roles.worker.proxy',
        message: expect.stringContaining('only web (the app itself) is served through the proxy yet'),
      }),
    ]);
    expect(proxied.problems[0]!.hint).toContain('remove proxy: true');
  });

  it('refuses a role whose containers would take the name of an accessory', () => {
    expect(problems('accessories:', '  worker-1: { image: redis:7 }', 'roles:', '  worker: { cmd: [node, w.js] }')).toEqual([
      { line: 9, column: 11, path: 'roles.worker', message: expect.stringContaining('would take the name of accessory worker-1') },
    ]);
  });

  it('refuses roles with backend: swarm, at the key, as bad input (exit 2)', () => {
    let err: unknown;
    try {
      parseConfig(['service: hello', 'backend: swarm', 'hosts: [root@10.0.0.5]', 'roles:', '  worker: { cmd: [node, w.js] }'].join('\n'), file);
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ConfigError)) throw new Error('expected a ConfigError');
    expect(err).toBeInstanceOf(InputError);
    expect(err.problems).toEqual([
      expect.objectContaining({ line: 5, path: 'roles', message: expect.stringContaining('roles are not supported with backend: swarm yet') }),
    ]);
    expect(err.problems[0]!.hint).toContain('remove roles:');
  });
});
