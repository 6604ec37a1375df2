/**
 * An accessory on some hosts, reached from every host of the service by the same alias: the private address in
 * boxship.yml (and its checks), the accessory's -p on that address only, --add-host on the app's containers of the
 * other hosts (instances, hooks, exec), and a rollout that restarts instances whose entries are stale. Exact argv.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessorySpec, runAccessory } from '../../src/accessories/commands.js';
import { accessoryHostEntries, hostsServing, privatePublish } from '../../src/config/accessory-reach.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, type Problem } from '../../src/config/problems.js';
import type { AccessoryConfig } from '../../src/config/types.js';
import { oneOffRun } from '../../src/exec/commands.js';
import { parseInstances, runInstance } from '../../src/rollout/instance-commands.js';
import { type HostState, planRollout } from '../../src/rollout/plan.js';
import { moveSteps } from '../../src/rollout/swap.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-reach-'));
const file = join(dir, 'boxship.yml');
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');

const load = (hosts: string[], ...accessories: string[]) =>
  parseConfig(`${['service: hello', 'hosts:', ...hosts, 'app: { port: 3000 }', 'accessories:', ...accessories].join('\n')}\n`, file);
const TWO = ['  - address: root@203.0.113.5', '    private_address: 10.0.0.5', '  - root@10.0.0.6'];
const REDIS = ['  redis:', '    image: redis:7', '    port: 6379'];

function problems(hosts: string[], ...accessories: string[]): Pick<Problem, 'line' | 'path' | 'message' | 'hint'>[] {
  try {
    load(hosts, ...accessories);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => ({ line: p.line, path: p.path, message: p.message, hint: p.hint }));
  }
  throw new Error('expected the config to be rejected');
}

describe('private addresses in boxship.yml', () => {
  it('private_address, else relay_address, else the address boxship connects to', () => {
    const c = load(
      ['  - address: root@203.0.113.5', '    private_address: 10.0.0.5', '  - address: deploy@198.51.100.6', '    relay_address: 10.0.0.6', '  - 10.0.0.7'],
      ...REDIS,
      '    host: 10.0.0.7',
    );
    expect(c.hosts.map((h) => h.privateAddress)).toEqual(['10.0.0.5', undefined, undefined]);
    expect(accessoryHostEntries(c, 'root@203.0.113.5')).toEqual(['redis:10.0.0.7']);
    const onFirst = load(['  - address: deploy@198.51.100.6', '    relay_address: 10.0.0.6', '  - 10.0.0.7'], ...REDIS);
    expect(accessoryHostEntries(onFirst, '10.0.0.7')).toEqual(['redis:10.0.0.6']);
  });

  it('refuses a private address the other servers cannot reach, only where an accessory needs it', () => {
    expect(problems(['  - root@127.0.0.1:2201', '  - root@127.0.0.1:2202'], ...REDIS)).toEqual([
      {
        line: 3,
        path: 'hosts[0]',
        message:
          'accessory redis does not run on root@127.0.0.1:2202: the app there reaches it at the private address of root@127.0.0.1:2201 (its first host), but 127.0.0.1 is a loopback address, which the other servers cannot reach',
        hint: 'set private_address on that host: { address: root@127.0.0.1:2201, private_address: <the IP the other servers reach it at, e.g. 10.0.0.5> }, or run redis on every host (hosts: [...])',
      },
    ]);
    expect(problems(['  - deploy@web1.example.com', '  - root@10.0.0.6'], ...REDIS)[0]!.message).toContain('but web1.example.com is not an IP address');
    expect(problems(['  - address: root@10.0.0.5', '    private_address: 0.0.0.0', '  - root@10.0.0.6'], ...REDIS)[0]).toMatchObject({
      line: 4,
      path: 'hosts[0].private_address',
      message: expect.stringContaining('but 0.0.0.0 is a wildcard address'),
    });
    expect(problems(['  - address: root@10.0.0.5', '    private_address: db.internal', '  - root@10.0.0.6'], ...REDIS)[0]).toMatchObject({
      path: 'hosts[0].private_address',
      message: 'expected an IP address, got "db.internal"',
    });
    // On every host, or without a port: nothing crosses hosts, so nothing to check.
    expect(() => load(['  - root@127.0.0.1:2201', '  - root@127.0.0.1:2202'], ...REDIS, '    hosts: [root@127.0.0.1:2201, root@127.0.0.1:2202]')).not.toThrow();
    expect(() => load(['  - root@127.0.0.1:2201', '  - root@127.0.0.1:2202'], '  redis: { image: redis:7 }')).not.toThrow();
  });
});

describe('an accessory reached from the hosts without it', () => {
  const c = load([...TWO, '  - root@10.0.0.7'], ...REDIS, '  db:', '    image: postgres:16', '    port: 5432', '    hosts: [root@10.0.0.6, root@10.0.0.7]');
  const [a, b, third] = c.hosts.map((h) => h.name) as [string, string, string];
  const redis = c.accessories![0]!;

  it('is published on its first host’s private address only; its other hosts publish nothing', () => {
    expect(privatePublish(c, redis, a)).toBe('10.0.0.5');
    expect(privatePublish(c, c.accessories![1]!, b)).toBe('10.0.0.6');
    expect(privatePublish(c, c.accessories![1]!, third)).toBeUndefined();
    const argv = runAccessory('hello', redis, '/root/.boxship/hello', 'spec1', privatePublish(c, redis, a)).argv;
    expect(argv.slice(argv.indexOf('--env-file'))).toEqual(['--env-file', '/root/.boxship/hello/accessories/redis.env', '-p', '10.0.0.5:6379:6379', 'redis:7']);
    expect(argv.slice(7, 11)).toEqual(['--network', 'boxship-hello', '--network-alias', 'redis']);
    // The spec label changes with it (accessory up recreates), and is the old one when no host reaches it.
    expect(accessorySpec(redis, '\n', '10.0.0.5')).not.toBe(accessorySpec(redis, '\n'));
    expect(accessorySpec(redis, '\n')).toBe(accessorySpec(redis, '\n', undefined));
  });

  it('publish: the same address or every address is one -p; another address is a second one', () => {
    const ps = (x: AccessoryConfig) => {
      const argv = runAccessory('hello', x, '/s', 'spec1', '10.0.0.5').argv;
      return argv.flatMap((w, i) => (w === '-p' ? [argv[i + 1]] : []));
    };
    expect(ps({ ...redis, publish: '10.0.0.5' })).toEqual(['10.0.0.5:6379:6379']);
    expect(ps({ ...redis, publish: '0.0.0.0' })).toEqual(['0.0.0.0:6379:6379']);
    expect(ps({ ...redis, publish: '127.0.0.1' })).toEqual(['127.0.0.1:6379:6379', '10.0.0.5:6379:6379']);
    const v6 = runAccessory('hello', redis, '/s', 'spec1', 'fd00::5').argv;
    expect(v6[v6.indexOf('-p') + 1]).toBe('[fd00::5]:6379:6379');
  });

  it('instances of the other hosts resolve its alias to that address (--add-host), labelled; its own hosts keep the network alias', () => {
    const spec = { slot: 1, tag: 'abc', colour: 'blue' as const, name: 'hello-1', stateDirAbs: '/s', sha: 'abc', restart: 'no' as const };
    // What comes between the instance's own labels and its restart policy.
    const reachArgs = (host: string) => {
      const argv = runInstance(c, { ...spec, host }).argv;
      return argv.slice(argv.indexOf('dev.boxship.colour=blue') + 1, argv.indexOf('--restart'));
    };
    expect(reachArgs(b)).toEqual(['--label', 'dev.boxship.accessory-hosts=redis:10.0.0.5', '--add-host', 'redis:10.0.0.5']);
    expect(reachArgs(a)).toEqual(['--label', 'dev.boxship.accessory-hosts=db:10.0.0.6', '--add-host', 'db:10.0.0.6']);
    expect(accessoryHostEntries(c, third)).toEqual(['redis:10.0.0.5']);
    // A move builds the same start.
    const move = moveSteps(c, { host: b, slot: 1, from: 'old', fromColour: 'green', to: 'abc', colour: 'blue' }, '/s');
    expect(move.start!.argv).toContain('redis:10.0.0.5');
  });

  it('hooks and exec containers on the other hosts resolve it too', () => {
    const argv = oneOffRun(c, { host: b, tag: 'abc', stateDirAbs: '/s', argv: ['node', 'migrate.js'] }).argv;
    expect(argv.slice(5, 11)).toEqual(['--network', 'boxship-hello', '--label', 'dev.boxship.one-off=hello', '--add-host', 'redis:10.0.0.5']);
    expect(oneOffRun(c, { host: a, tag: 'abc', stateDirAbs: '/s', argv: [] }).argv).not.toContain('redis:10.0.0.5');
    // The pre_rollout hook on the first host starts what it reaches first: db, served by b.
    expect(hostsServing(c, a)).toEqual([b]);
    expect(hostsServing(c, b)).toEqual([a]);
  });

  it('no accessory across hosts: instances as before, no label, no --add-host', () => {
    const same = load(TWO, ...REDIS, '    hosts: [root@203.0.113.5, root@10.0.0.6]');
    const argv = runInstance(same, { host: b, slot: 1, tag: 'abc', colour: 'blue', name: 'hello-1', stateDirAbs: '/s', sha: 'abc', restart: 'no' }).argv;
    expect(argv.join(' ')).not.toMatch(/add-host|accessory-hosts/);
  });
});

describe('a rollout after an accessory moved', () => {
  const slot = (tag: string, accessoryHosts?: string) => ({
    slot: 1,
    tag,
    colour: 'blue' as const,
    ...(accessoryHosts !== undefined ? { accessoryHosts } : {}),
  });
  it('starts again, on the same release, the instances whose entries are not what their host needs now', () => {
    const fleet: HostState[] = [
      { host: 'a', slots: [slot('v1')], accessoryHosts: '' },
      { host: 'b', slots: [slot('v1', 'redis:10.0.0.5')], accessoryHosts: 'redis:10.0.0.9' },
      { host: 'c', slots: [slot('v1', 'redis:10.0.0.5')], accessoryHosts: 'redis:10.0.0.5' },
      // Started by an older boxship (no label) and needing none: left alone.
      { host: 'd', slots: [slot('v1')] },
    ];
    expect(planRollout(fleet, 'v1').map((m) => `${m.host}:${m.from}->${m.to}:${m.colour}`)).toEqual(['b:v1->v1:green']);
    expect(planRollout([{ host: 'a', slots: [slot('v1', 'redis:10.0.0.5')], accessoryHosts: '' }], 'v1')).toHaveLength(1);
  });

  it('reads the label back from the instance', () => {
    const line = JSON.stringify({
      name: '/hello-1',
      labels: { 'dev.boxship.tag': 'v1', 'dev.boxship.slot': '1', 'dev.boxship.colour': 'blue', 'dev.boxship.accessory-hosts': 'redis:10.0.0.5' },
      running: true,
    });
    expect(parseInstances(line)[0]!.accessoryHosts).toBe('redis:10.0.0.5');
    expect(parseInstances(line.replace(/,"dev.boxship.accessory-hosts":"[^"]*"/, ''))[0]!.accessoryHosts).toBe('');
  });
});
