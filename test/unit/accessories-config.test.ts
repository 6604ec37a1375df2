/** accessories: in boxship.yml: what a valid entry becomes, and every refusal with its position. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-accessories-'));
const file = join(dir, 'boxship.yml');
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
writeFileSync(join(dir, 'db.secrets'), 'POSTGRES_PASSWORD=s3cr3t-value\n');
writeFileSync(join(dir, 'bad.secrets'), 'no equals sign\n');

const HOSTS = ['hosts:', '  - root@10.0.0.5', '  - address: deploy@10.0.0.6:2222', '    instances: 2'];
const load = (...lines: string[]) => parseConfig(`${['service: hello', ...HOSTS, ...lines].join('\n')}\n`, file);

function problems(...lines: string[]): Pick<Problem, 'line' | 'column' | 'path' | 'message'>[] {
  try {
    load(...lines);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => ({ line: p.line, column: p.column, path: p.path, message: p.message }));
  }
  throw new Error('expected the config to be rejected');
}

describe('accessories in boxship.yml', () => {
  it('no accessories key: none', () => {
    expect(load().accessories).toBeUndefined();
  });

  it('converts a full entry and applies defaults to a minimal one (first host, no port, no volumes)', () => {
    const config = load(
      'accessories:',
      '  db:',
      '    image: boxship-test-redis:1',
      '    hosts: [deploy@10.0.0.6:2222, 10.0.0.5]',
      '    port: 6379',
      '    publish: 127.0.0.1',
      '    env: { MAXMEMORY: 64mb, VERSION: 1.10 }',
      '    secrets_file: db.secrets',
      '    volumes: { data: /data, conf: { path: /etc/redis, mode: ro } }',
      '    cmd: redis-server  --appendonly yes',
      '    stop_timeout_seconds: 5',
      '  cache:',
      `    image: registry.example.com:5000/team/cache@sha256:${'a'.repeat(64)}`,
    );
    expect(config.accessories).toEqual([
      {
        name: 'db',
        image: 'boxship-test-redis:1',
        // In the order of hosts:, whatever the order written.
        hosts: ['root@10.0.0.5', 'deploy@10.0.0.6:2222'],
        port: 6379,
        publish: '127.0.0.1',
        // The number as written, not 1.1.
        env: { MAXMEMORY: '64mb', VERSION: '1.10' },
        secretsFile: join(dir, 'db.secrets'),
        volumes: [
          { name: 'data', path: '/data', readOnly: false },
          { name: 'conf', path: '/etc/redis', readOnly: true },
        ],
        cmd: ['redis-server', '--appendonly', 'yes'],
        stopTimeoutSeconds: 5,
      },
      {
        name: 'cache',
        image: `registry.example.com:5000/team/cache@sha256:${'a'.repeat(64)}`,
        hosts: ['root@10.0.0.5'],
        env: {},
        volumes: [],
        stopTimeoutSeconds: 30,
      },
    ]);
  });

  it('takes a list cmd as its words and a host by its host name', () => {
    const [a] = load('accessories:', '  db:', '    image: redis:7', '    host: 10.0.0.6', '    cmd: [redis-server, --save, ""]').accessories!;
    expect(a!.hosts).toEqual(['deploy@10.0.0.6:2222']);
    expect(a!.cmd).toEqual(['redis-server', '--save', '']);
  });

  it('refuses an image that is no image reference (it would be a docker flag)', () => {
    expect(problems('accessories:', '  db:', '    image: --privileged')).toEqual([
      { line: 8, column: 12, path: 'accessories.db.image', message: expect.stringContaining('it starts with "-", so docker would read it as an option') },
    ]);
    expect(problems('accessories:', '  db: { port: 6379 }')).toEqual([
      { line: 7, column: 7, path: 'accessories.db.image', message: 'required key is missing' },
    ]);
  });

  it('refuses a host that is not in hosts:, a host listed twice, and host with hosts', () => {
    expect(problems('accessories:', '  db:', '    image: redis:7', '    host: 10.0.0.9')).toEqual([
      { line: 9, column: 11, path: 'accessories.db.host', message: '"10.0.0.9" is not one of hosts:' },
    ]);
    expect(problems('accessories:', '  db:', '    image: redis:7', '    hosts: [10.0.0.5, root@10.0.0.5]')).toEqual([
      { line: 9, column: 23, path: 'accessories.db.hosts[1]', message: '"root@10.0.0.5" is listed twice (root@10.0.0.5)' },
    ]);
    expect(problems('accessories:', '  db:', '    image: redis:7', '    host: 10.0.0.5', '    hosts: [10.0.0.5]')).toEqual([
      { line: 10, column: 12, path: 'accessories.db.hosts', message: 'host and hosts are both set' },
    ]);
  });

  it('refuses names that would clash on the service network, and names that are not DNS-like', () => {
    expect(problems('accessories:', '  proxy: { image: redis:7 }')).toEqual([
      { line: 7, column: 10, path: 'accessories.proxy', message: 'proxy is a name boxship uses itself (the container hello-proxy is the proxy)' },
    ]);
    expect(problems('accessories:', '  hello-1: { image: redis:7 }')).toEqual([
      {
        line: 7,
        column: 12,
        path: 'accessories.hello-1',
        message: 'hello-1 could take the name of one of the instances (hello-1, hello-1-blue) on the service network',
      },
    ]);
    expect(problems('accessories:', '  Db_1: { image: redis:7 }')).toEqual([
      {
        line: 7,
        column: 3,
        path: 'accessories.Db_1',
        message: expect.stringContaining('expected an accessory name: lowercase letters, digits and single -, starting with a letter'),
      },
    ]);
  });

  it('refuses publish without port, bad ports, env values with newlines, quotes in a string cmd, a bad volume', () => {
    expect(problems('accessories:', '  db: { image: redis:7, publish: 127.0.0.1 }')).toEqual([
      { line: 7, column: 34, path: 'accessories.db.publish', message: 'publish needs port: it publishes that port' },
    ]);
    expect(problems('accessories:', '  db: { image: redis:7, port: 0 }')).toEqual([
      { line: 7, column: 31, path: 'accessories.db.port', message: 'expected a number from 1 to 65535, got 0' },
    ]);
    expect(problems('accessories:', '  db:', '    image: redis:7', '    env: { A: "x\\ny=1" }')).toEqual([
      { line: 9, column: 15, path: 'accessories.db.env.A', message: expect.stringContaining('expected a value without newlines or NUL characters') },
    ]);
    expect(problems('accessories:', '  db:', '    image: redis:7', `    cmd: redis-server --save ''`)).toEqual([
      { line: 9, column: 10, path: 'accessories.db.cmd', message: expect.stringContaining('without quotes or backslashes') },
    ]);
    expect(problems('accessories:', '  db:', '    image: redis:7', '    volumes: { data: "/data:rw,z" }')).toEqual([
      { line: 9, column: 22, path: 'accessories.db.volumes.data', message: expect.stringContaining('without ":"') },
    ]);
  });

  it('checks the secrets file as the app one: there, parsable (at its own line), never in build.include', () => {
    const missing = problems('accessories:', '  db: { image: redis:7, secrets_file: nope.secrets }');
    expect(missing).toEqual([{ line: 7, column: 39, path: 'accessories.db.secrets_file', message: `file not found: ${join(dir, 'nope.secrets')}` }]);
    try {
      load('accessories:', '  db: { image: redis:7, secrets_file: bad.secrets }');
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        expect.objectContaining({ file: join(dir, 'bad.secrets'), line: 1, message: 'expected KEY=VALUE, got a line without "="' }),
      ]);
    }
    const text = ['service: hello', 'build: { include: [db.secrets] }', ...HOSTS, 'accessories:', '  db: { image: redis:7, secrets_file: db.secrets }'].join(
      '\n',
    );
    expect(() => parseConfig(text, file)).toThrow(/build\.include\[0\]: db\.secrets is the secrets file of accessory db: it must never be part of an image/);
  });
});
