import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import type { Config } from '../../src/config/types.js';
import { ExitCode, InputError } from '../../src/util/errors.js';
import { refusal } from '../helpers/config-refusal.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'boxship-config-'));
  file = path.join(dir, 'boxship.yml');
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes boxship.yml (lines joined with \n, so line numbers in tests are easy to count) and loads it. */
function load(...lines: string[]): Config {
  writeFileSync(file, `${lines.join('\n')}\n`);
  return loadConfig(file);
}

function problemsOf(...lines: string[]): ConfigError {
  return refusal(() => load(...lines));
}

/** The parts of a problem a test pins down: position, path and message. */
const where = (p: Problem) => ({ line: p.line, column: p.column, path: p.path, message: p.message });

const defaults = (hosts: Config['hosts']): Config => ({
  file,
  dir,
  service: 'hello',
  build: { context: dir, dockerfile: path.join(dir, 'Dockerfile'), args: {}, include: [], pins: {} },
  hosts,
  app: { port: 3000, env: {}, volumes: [], drainSeconds: 2, stopTimeoutSeconds: 10 },
  healthcheck: { path: '/health', port: 3000, intervalMs: 1000, timeoutMs: 2000, retries: 10 },
  proxy: { image: 'boxship-proxy:caddy-2.6.2', port: 8080, bind: '0.0.0.0', retryAfterSeconds: 5, backoffHeader: 'X-Backoff' },
  releases: { keep: 5 },
  ship: { compression: 'auto', relay: 'auto', relayAgent: 'off' },
});

describe('valid files', () => {
  it('applies every default to a minimal file', () => {
    expect(load('service: hello', 'hosts:', '  - 127.0.0.1')).toEqual(
      defaults([
        {
          name: '127.0.0.1',
          user: 'root',
          hostname: '127.0.0.1',
          port: 22,
          knownHosts: path.join(homedir(), '.ssh/known_hosts'),
          instances: 1,
        },
      ]),
    );
  });

  it('converts a full file to the exact Config', () => {
    mkdirSync(path.join(dir, 'app/docker'), { recursive: true });
    writeFileSync(path.join(dir, 'app/docker/Dockerfile.prod'), 'FROM node:20-bookworm-slim\n');
    writeFileSync(path.join(dir, 'id_ed25519'), 'key\n');
    writeFileSync(path.join(dir, 'other_key'), 'key\n');
    writeFileSync(path.join(dir, '.env.secrets'), '# comment\n\nAPI_KEY=abc=def\nEMPTY=\n');
    const pin = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const config = load(
      'service: hello',
      'build:',
      '  context: app',
      '  dockerfile: docker/Dockerfile.prod',
      '  target: runtime',
      '  platform: linux/amd64',
      '  args: { NODE_IMAGE: node:20-bookworm-slim, VERSION: 1.10, DEBUG: True }',
      '  pins:',
      `    node:20-bookworm-slim: ${pin}`,
      'ssh:',
      '  identity_file: ./id_ed25519',
      '  known_hosts: known_hosts',
      '  jump: deploy@bastion.example:2200',
      'hosts:',
      '  - root@127.0.0.1:2201',
      '  - address: deploy@[::1]:2222',
      '    identity_file: other_key',
      '    known_hosts: ~/.ssh/other_known_hosts',
      '    jump: bastion2',
      '    instances: 2',
      'instances: 3',
      'app:',
      '  port: 4000',
      '  env: { LOG_LEVEL: info, WORKERS: 4 }',
      '  secrets_file: .env.secrets',
      '  volumes: { db: /app/db, configs: /app/configs }',
      '  config_file: { env: APP_CONFIG, path: /app/configs/app.json }',
      '  drain_seconds: 0.5',
      '  stop_timeout_seconds: 30',
      'healthcheck:',
      '  path: /ready',
      '  interval: 500ms',
      '  timeout: 1.5',
      '  retries: 3',
      'proxy:',
      '  image: my-proxy:1',
      '  port: 80',
      '  bind: 127.0.0.1',
      '  retry_after: 10',
      '  backoff_header: X-Slow-Down',
      'releases:',
      '  keep: 3',
    );
    expect(config).toEqual({
      file,
      dir,
      service: 'hello',
      build: {
        context: path.join(dir, 'app'),
        dockerfile: path.join(dir, 'app/docker/Dockerfile.prod'),
        target: 'runtime',
        platform: 'linux/amd64',
        // Numbers and booleans keep the text as written: 1.10 is not 1.1.
        args: { NODE_IMAGE: 'node:20-bookworm-slim', VERSION: '1.10', DEBUG: 'True' },
        include: [],
        pins: { 'node:20-bookworm-slim': pin },
      },
      hosts: [
        {
          name: 'root@127.0.0.1:2201',
          user: 'root',
          hostname: '127.0.0.1',
          port: 2201,
          identityFile: path.join(dir, 'id_ed25519'),
          knownHosts: path.join(dir, 'known_hosts'),
          jump: { user: 'deploy', hostname: 'bastion.example', port: 2200, name: 'deploy@bastion.example:2200' },
          instances: 3,
        },
        {
          name: 'deploy@[::1]:2222',
          user: 'deploy',
          hostname: '::1',
          port: 2222,
          identityFile: path.join(dir, 'other_key'),
          knownHosts: path.join(homedir(), '.ssh/other_known_hosts'),
          jump: { user: 'root', hostname: 'bastion2', port: 22, name: 'bastion2' },
          instances: 2,
        },
      ],
      app: {
        port: 4000,
        env: { LOG_LEVEL: 'info', WORKERS: '4' },
        secretsFile: path.join(dir, '.env.secrets'),
        volumes: [
          { name: 'db', path: '/app/db', readOnly: false },
          { name: 'configs', path: '/app/configs', readOnly: false },
        ],
        configFile: { env: 'APP_CONFIG', path: '/app/configs/app.json' },
        drainSeconds: 0.5,
        stopTimeoutSeconds: 30,
      },
      // port: app.port, since healthcheck.port is not set.
      healthcheck: { path: '/ready', port: 4000, intervalMs: 500, timeoutMs: 1500, retries: 3 },
      proxy: { image: 'my-proxy:1', port: 80, bind: '127.0.0.1', retryAfterSeconds: 10, backoffHeader: 'X-Slow-Down' },
      releases: { keep: 3 },
      ship: { compression: 'auto', relay: 'auto', relayAgent: 'off' },
    } satisfies Config);
  });

  it('takes an explicit healthcheck port and minute durations', () => {
    const config = load('service: hello', 'hosts: [a.example]', 'healthcheck: { port: 9000, interval: 1m, timeout: 2 }');
    expect(config.healthcheck).toEqual({ path: '/health', port: 9000, intervalMs: 60_000, timeoutMs: 2000, retries: 10 });
  });

  it('lends the agent to relay hops only when ship.relay_agent says forward', () => {
    expect(load('service: hello', 'hosts: [a.example]').ship.relayAgent).toBe('off');
    expect(load('service: hello', 'hosts: [a.example]', 'ship: { relay_agent: forward }').ship.relayAgent).toBe('forward');
    expect(problemsOf('service: hello', 'hosts: [a.example]', 'ship: { relay_agent: yes }').message).toMatch(/expected forward or off/);
  });

  it('parses text without reading the config file, resolving paths against its folder', () => {
    const config = parseConfig('service: hello\nhosts: [h]\nbuild: { context: . }\n', file);
    expect(config.build.context).toBe(dir);
    expect(config.file).toBe(file);
  });
});

describe('error positions and messages', () => {
  it('names an unknown key at its position, with a did-you-mean and the allowed keys', () => {
    const err = problemsOf('service: hello', 'hosts: [h]', 'helthcheck:', '  path: /x');
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(ExitCode.needsAction);
    expect(err.message).toBe(`${file}:3:1: helthcheck: unknown key; did you mean "healthcheck"?`);
    expect(err.hint).toBe(
      'rename it to "healthcheck"; allowed keys at the top level: service, backend, build, ssh, hosts, instances, app, healthcheck, proxy, releases, ship, hooks, accessories, roles, swarm',
    );
  });

  it('refuses a build.platform that is not os/architecture', () => {
    const err = problemsOf('service: hello', 'hosts: [h]', 'build:', '  platform: amd64');
    expect(err.message).toContain(`${file}:4:13: build.platform`);
    expect(err.message).toContain('expected os/architecture[/variant], e.g. linux/amd64');
  });

  it('points at an unknown key inside a host and at a key that belongs elsewhere', () => {
    const err = problemsOf('service: hello', 'hosts:', '  - address: h', '    identity_fil: k', 'port: 80');
    expect(err.problems.map(where)).toEqual([
      { line: 4, column: 5, path: 'hosts[0].identity_fil', message: 'unknown key; did you mean "identity_file"?' },
      { line: 5, column: 1, path: 'port', message: 'unknown key' },
    ]);
    expect(err.problems[1]!.hint).toMatch(/^"port" belongs under app, healthcheck or proxy; allowed keys at the top level: /);
  });

  it('reports a YAML syntax error with its position', () => {
    const err = problemsOf('service: hello', 'hosts:', '  - a', '   b: c');
    expect(err.problems.map(where)).toEqual([{ line: 3, column: 5, path: '', message: 'invalid YAML: Implicit keys need to be on a single line' }]);
    expect(err.message).toBe(`${file}:3:5: invalid YAML: Implicit keys need to be on a single line`);
  });

  it('reports a duplicate YAML key', () => {
    const err = problemsOf('service: hello', 'hosts: [h]', 'service: again');
    expect(err.problems.map((p) => [p.line, p.column, p.message])).toEqual([[3, 1, 'invalid YAML: Map keys must be unique']]);
  });

  it('explains a bad host address, naming the part that is wrong', () => {
    const err = problemsOf(
      'service: hello',
      'hosts:',
      '  - root@127.0.0.1:2201',
      '  - root@127.0.0.1:22x',
      '  - bad_host',
      '  - ::1',
      '  - address: "@h"',
      '  - 7',
    );
    expect(err.problems.map(where)).toEqual([
      { line: 4, column: 5, path: 'hosts[1].port', message: 'expected a number from 1 to 65535, got "22x"' },
      { line: 5, column: 5, path: 'hosts[2].hostname', message: 'expected a host name or IP address, got "bad_host"' },
      { line: 6, column: 5, path: 'hosts[3].hostname', message: 'expected an IPv6 address in brackets, e.g. [::1], got "::1"' },
      { line: 7, column: 14, path: 'hosts[4].address.user', message: 'expected a user name (letters, digits, _ . -), got ""' },
      { line: 8, column: 5, path: 'hosts[5]', message: 'expected [user@]host[:port] or a map with an address, got 7' },
    ]);
    expect(err.message.split('\n')[0]).toBe(`${file}:4:5: hosts[1].port: expected a number from 1 to 65535, got "22x"`);
    expect(err.hint).toContain('hosts[1].port: write the host as [user@]host[:port], e.g. deploy@10.0.0.7:2222');
  });

  it('rejects the same server listed twice', () => {
    const err = problemsOf('service: hello', 'hosts:', '  - root@Example.com', '  - address: deploy@example.com:22');
    expect(err.problems.map(where)).toEqual([
      {
        line: 4,
        column: 14,
        path: 'hosts[1].address',
        message: 'duplicate host: "deploy@example.com:22" is the same server as hosts[0] "root@Example.com"',
      },
    ]);
    expect(err.hint).toBe('list each server once; to run more containers on one server, set instances on it');
  });

  it('reports duplicate hosts and mount points together with other problems', () => {
    const err = problemsOf('service: hello', 'hosts: [a:22, "a:2x", a]', 'app: { volumes: { one: /data, two: /data }, port: 0 }');
    expect(err.problems.map(where)).toEqual([
      { line: 2, column: 15, path: 'hosts[1].port', message: 'expected a number from 1 to 65535, got "2x"' },
      { line: 2, column: 23, path: 'hosts[2]', message: 'duplicate host: "a" is the same server as hosts[0] "a:22"' },
      { line: 3, column: 36, path: 'app.volumes.two', message: '/data is already the mount point of volume "one"' },
      { line: 3, column: 51, path: 'app.port', message: 'expected a number from 1 to 65535, got 0' },
    ]);
  });

  it('points a missing key at the map that lacks it', () => {
    const err = problemsOf('# my service', 'build:', '  context: .', 'app:', '  config_file:', '    env: APP_CONFIG');
    expect(err.problems.map(where)).toEqual([
      { line: 2, column: 1, path: 'service', message: 'required key is missing' },
      { line: 2, column: 1, path: 'hosts', message: 'required key is missing' },
      { line: 6, column: 5, path: 'app.config_file.path', message: 'required key is missing' },
    ]);
    // The hint is the schema's description of the key.
    expect(err.problems[0]!.hint).toMatch(/^Service name/);
  });

  it('reports every problem at once, one per line, in file order', () => {
    const err = problemsOf(
      'service: Hello_World',
      'hosts: []',
      'instances: 0',
      'app:',
      '  port: "3000x"',
      '  env: { log-level: info, EMPTY: }',
      '  volumes: { Db: /data, logs: var/log }',
      'healthcheck: { path: health, interval: 5x, timeout: 0 }',
      'proxy: { bind: localhost, backoff_header: "X Backoff" }',
      'releases: { keep: 1 }',
      'build: { pins: { "node:20": "sha256:abc" } }',
    );
    expect(err.problems.map(where)).toEqual([
      {
        line: 1,
        column: 10,
        path: 'service',
        message: 'expected a service name: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters, got "Hello_World"',
      },
      { line: 2, column: 8, path: 'hosts', message: 'expected at least one host, got an empty list' },
      { line: 3, column: 12, path: 'instances', message: 'expected a whole number from 1 to 20, got 0' },
      { line: 5, column: 9, path: 'app.port', message: 'expected a number from 1 to 65535, got "3000x"' },
      {
        line: 6,
        column: 10,
        path: 'app.env.log-level',
        message: 'expected an environment variable name: letters, digits and _, not starting with a digit, got "log-level"',
      },
      { line: 6, column: 27, path: 'app.env.EMPTY', message: 'expected a string value (write "" for an empty one), got nothing (null)' },
      {
        line: 7,
        column: 14,
        path: 'app.volumes.Db',
        message: 'expected a volume name: lowercase letters, digits, _ and -, starting with a letter or digit, got "Db"',
      },
      {
        line: 7,
        column: 31,
        path: 'app.volumes.logs',
        message: 'expected an absolute path inside the container, starting with /, without ":", ",", "=", quotes or line breaks, got "var/log"',
      },
      { line: 8, column: 22, path: 'healthcheck.path', message: 'expected a URL path starting with /, without spaces or control characters, got "health"' },
      {
        line: 8,
        column: 40,
        path: 'healthcheck.interval',
        message: 'expected a duration: a number of seconds, or a string like "500ms", "2s" or "1m", got "5x"',
      },
      {
        line: 8,
        column: 53,
        path: 'healthcheck.timeout',
        message: 'expected a duration: a number of seconds, or a string like "500ms", "2s" or "1m", got 0',
      },
      { line: 9, column: 16, path: 'proxy.bind', message: 'expected an IP address, got "localhost"' },
      { line: 9, column: 43, path: 'proxy.backoff_header', message: 'expected an HTTP header name, got "X Backoff"' },
      { line: 10, column: 19, path: 'releases.keep', message: 'expected a whole number from 2 to 100, got 1' },
      {
        line: 11,
        column: 29,
        path: 'build.pins["node:20"]',
        message: 'expected a local image ID "sha256:<64 hex digits>", got "sha256:abc"',
      },
    ]);
    expect(err.message.split('\n')).toHaveLength(15);
    expect(err.message.split('\n')[3]).toBe(`${file}:5:9: app.port: expected a number from 1 to 65535, got "3000x"`);
  });

  it('names wrong types in words', () => {
    const err = problemsOf('service: hello', 'hosts: h', 'build: [a]', 'ssh:');
    expect(err.problems.map(where)).toEqual([
      { line: 2, column: 8, path: 'hosts', message: 'expected a list of hosts, got "h"' },
      { line: 3, column: 8, path: 'build', message: 'expected a map of key: value, got a list' },
      // `ssh:` with nothing after it: point at the key.
      { line: 4, column: 1, path: 'ssh', message: 'expected a map of key: value, got nothing (null)' },
    ]);
  });
});

describe('checks against the file system', () => {
  it('requires the build context, the Dockerfile and identity files to exist', () => {
    const err = problemsOf(
      'service: hello',
      'ssh: { identity_file: ~/.ssh/boxship-test-no-such-key }',
      'hosts:',
      '  - a',
      '  - { address: b, identity_file: keys/none }',
      'build:',
      '  dockerfile: Dockerfile.missing',
    );
    expect(err.problems.map(where)).toEqual([
      { line: 2, column: 23, path: 'ssh.identity_file', message: `file not found: ${path.join(homedir(), '.ssh/boxship-test-no-such-key')}` },
      { line: 5, column: 34, path: 'hosts[1].identity_file', message: `file not found: ${path.join(dir, 'keys/none')}` },
      { line: 7, column: 15, path: 'build.dockerfile', message: `Dockerfile not found: ${path.join(dir, 'Dockerfile.missing')}` },
    ]);
    expect(err.problems[0]!.hint).toMatch(/remove identity_file to use the keys in ssh-agent$/);
  });

  it('requires the build context folder and keeps the Dockerfile inside it', () => {
    expect(problemsOf('service: hello', 'hosts: [a]', 'build: { context: nope }').problems.map(where)).toEqual([
      { line: 3, column: 19, path: 'build.context', message: `folder not found: ${path.join(dir, 'nope')}` },
    ]);
    mkdirSync(path.join(dir, 'sub'));
    expect(problemsOf('service: hello', 'hosts: [a]', 'build: { context: sub, dockerfile: ../Dockerfile }').problems.map(where)).toEqual([
      {
        line: 3,
        column: 36,
        path: 'build.dockerfile',
        message: `${path.join(dir, 'Dockerfile')} is outside the build context ${path.join(dir, 'sub')}`,
      },
    ]);
    // No Dockerfile key written: the problem points at the build section that would hold it.
    expect(problemsOf('service: hello', 'hosts: [a]', 'build:', '  context: sub').problems.map(where)).toEqual([
      { line: 4, column: 3, path: 'build.dockerfile', message: `Dockerfile not found: ${path.join(dir, 'sub/Dockerfile')}` },
    ]);
  });

  it("reports a bad secrets file line at the secrets file's own line, without echoing it", () => {
    writeFileSync(path.join(dir, 'secrets.env'), 'GOOD=1\n# note\nhunter2\n9LIVES=x\nGOOD=2\n');
    const err = problemsOf('service: hello', 'hosts: [a]', 'app:', '  secrets_file: secrets.env', 'instances: 99');
    const secrets = path.join(dir, 'secrets.env');
    expect(err.problems.map((p) => ({ file: p.file, ...where(p) }))).toEqual([
      // Schema problems come first: the file-system checks run once the structure is valid.
      { file, line: 5, column: 12, path: 'instances', message: 'expected a whole number from 1 to 20, got 99' },
    ]);
    const err2 = problemsOf('service: hello', 'hosts: [a]', 'app:', '  secrets_file: secrets.env');
    expect(err2.problems.map((p) => ({ file: p.file, ...where(p) }))).toEqual([
      { file: secrets, line: 3, column: 1, path: '', message: 'expected KEY=VALUE, got a line without "="' },
      { file: secrets, line: 4, column: 1, path: '', message: 'expected KEY=VALUE with KEY made of letters, digits and _, got key "9LIVES"' },
      { file: secrets, line: 5, column: 1, path: '', message: 'GOOD is set twice (first on line 1)' },
    ]);
    expect(err2.message).not.toContain('hunter2');
    expect(err2.message.split('\n')[0]).toBe(`${secrets}:3:1: expected KEY=VALUE, got a line without "="`);
  });

  it('requires the secrets file to exist', () => {
    const err = problemsOf('service: hello', 'hosts: [a]', 'app: { secrets_file: .env.secrets }');
    expect(err.problems.map(where)).toEqual([{ line: 3, column: 22, path: 'app.secrets_file', message: `file not found: ${path.join(dir, '.env.secrets')}` }]);
  });

  it('reports a missing config file with a hint', () => {
    const missing = path.join(dir, 'nope.yml');
    expect(() => loadConfig(missing)).toThrow(InputError);
    expect(() => loadConfig(missing)).toThrow(`${missing}: config file not found`);
    try {
      loadConfig(missing);
    } catch (err) {
      expect((err as InputError).hint).toBe("create it; see README 'Configuration'");
      expect((err as InputError).exitCode).toBe(ExitCode.needsAction);
    }
  });

  it('reports an empty file', () => {
    expect(problemsOf('# nothing yet').problems.map(where)).toEqual([{ line: 1, column: 1, path: '', message: 'the file is empty' }]);
  });
});
