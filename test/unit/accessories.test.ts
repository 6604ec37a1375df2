/** Accessories: the remote commands (exact argv) and what setup/up/down/restart do on a host (scripted runner). */
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  accessoryEnvText,
  accessorySpec,
  inspectAccessory,
  listAccessoryImages,
  makeAccessoryDirs,
  parseAccessoryImages,
  parseAccessoryState,
  removeAccessoryContainer,
  removeAccessoryFiles,
  restartAccessory,
  runAccessory,
  swapAccessory,
  waitListening,
} from '../../src/accessories/commands.js';
import { accessoryDown, accessoryRestart, accessoryUp, ensureAccessories, findAccessory } from '../../src/accessories/run.js';
import type { AccessoryConfig, Config } from '../../src/config/types.js';
import { toShell } from '../../src/hosts/command.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import { listInstances } from '../../src/rollout/instance-commands.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { InputError } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const redis: AccessoryConfig = {
  name: 'cache',
  image: 'boxship-test-redis:1',
  hosts: ['h1'],
  port: 6379,
  env: { MAXMEMORY: '64mb' },
  volumes: [{ name: 'data', path: '/data', readOnly: false }],
  cmd: ['redis-server', '--appendonly', 'yes'],
  stopTimeoutSeconds: 30,
};

describe('accessory commands', () => {
  it('runs the container on the service network under its name, never pulling, with its env file, data folders, stop signal', () => {
    expect(
      runAccessory(
        'hello',
        { ...redis, publish: '127.0.0.1', stopSignal: 'SIGQUIT', volumes: [...redis.volumes, { name: 'conf', path: '/etc/redis', readOnly: true }] },
        '/root/.boxship/hello',
        'abc123',
      ).argv,
    ).toEqual([
      'docker',
      'run',
      '-d',
      '--pull',
      'never',
      '--name',
      'hello-cache',
      '--network',
      'boxship-hello',
      '--network-alias',
      'cache',
      '--label',
      'dev.boxship.service=hello',
      '--label',
      'dev.boxship.accessory=cache',
      '--label',
      'dev.boxship.accessory-spec=abc123',
      '--restart',
      'unless-stopped',
      '--stop-timeout',
      '30',
      '--stop-signal',
      'SIGQUIT',
      '--env-file',
      '/root/.boxship/hello/accessories/cache.env',
      '-p',
      '127.0.0.1:6379:6379',
      '-v',
      '/root/.boxship/hello/accessories/cache/data:/data',
      '-v',
      '/root/.boxship/hello/accessories/cache/conf:/etc/redis:ro',
      'boxship-test-redis:1',
      'redis-server',
      '--appendonly',
      'yes',
    ]);
    // No cmd: the image's own; no publish: no -p; no stop signal: the image's; an IPv6 address in brackets.
    const bare = runAccessory('hello', { ...redis, cmd: undefined, volumes: [] }, '/home/deploy/.boxship/hello', 's').argv;
    expect(bare).not.toContain('--stop-signal');
    expect(bare.slice(-3)).toEqual(['--env-file', '/home/deploy/.boxship/hello/accessories/cache.env', 'boxship-test-redis:1']);
    expect(runAccessory('hello', { ...redis, publish: '::1' }, '/r', 's').argv).toContain('[::1]:6379:6379');
  });

  it('creates the folders relative to the home, writes env then secrets (secrets win)', () => {
    expect(makeAccessoryDirs('.boxship/hello', redis).argv).toEqual([
      'sh',
      '-c',
      'mkdir -p "$@"',
      'sh',
      '.boxship/hello/accessories',
      '.boxship/hello/accessories/cache/data',
    ]);
    expect(accessoryEnvText({ A: '1', PASSWORD: 'env' }, { PASSWORD: 'secret' })).toBe('A=1\nPASSWORD=secret\n');
    expect(accessoryEnvText({})).toBe('\n');
  });

  it('hashes what the container is started with: image, cmd, env, volumes, port, stop settings change it; the host does not', () => {
    const base = accessorySpec(redis, 'A=1\n');
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(accessorySpec({ ...redis, hosts: ['h2'] }, 'A=1\n')).toBe(base);
    // The hash before stop_signal existed (main's): an accessory without one is not recreated by the upgrade.
    expect(base).toBe('40bfd6030e71881d');
    const changes = [
      { image: 'boxship-test-redis:2' },
      { cmd: ['redis-server'] },
      { port: 6380 },
      { volumes: [] },
      { stopTimeoutSeconds: 5 },
      { stopSignal: 'SIGQUIT' as const },
    ];
    for (const changed of changes) {
      expect(accessorySpec({ ...redis, ...changed }, 'A=1\n'), JSON.stringify(changed)).not.toBe(base);
    }
    expect(accessorySpec(redis, 'A=2\n')).not.toBe(base);
  });

  it('inspects one container by name, and reads a missing one as missing', () => {
    expect(toShell(inspectAccessory('hello', 'cache'))).toBe(
      `sh -c 'docker container inspect --format '\\''{"status":{{json .State.Status}},"running":{{.State.Running}},"image":{{json .Config.Image}},"imageId":{{json .Image}},"spec":{{json (index .Config.Labels "dev.boxship.accessory-spec")}}}'\\'' "$1" 2>/dev/null || true' sh hello-cache`,
    );
    expect(inspectAccessory('hello', 'cache').effect).toBe('read');
    expect(parseAccessoryState('')).toEqual({ exists: false, running: false });
    expect(parseAccessoryState('{"status":"exited","running":false,"image":"r:1","imageId":"sha256:1","spec":null}\n')).toEqual({
      exists: true,
      running: false,
      status: 'exited',
      image: 'r:1',
      imageId: 'sha256:1',
    });
  });

  it('restarts, stops (cleanly, within the stop timeout) and removes with exact commands', () => {
    expect(restartAccessory('hello', redis).argv).toEqual(['docker', 'restart', '-t', '30', 'hello-cache']);
    // A database may take up to its stop timeout to shut down: the command outlives it, not the default limit.
    expect(restartAccessory('hello', { ...redis, stopTimeoutSeconds: 3600 }).timeoutMs).toBe(3_660_000);
    expect(swapAccessory('hello', { ...redis, stopTimeoutSeconds: 3600 }).timeoutMs).toBe(3_660_000);
    const rm = removeAccessoryContainer('hello', redis);
    expect(rm.argv).toEqual([
      'sh',
      '-c',
      'docker container inspect "$1" >/dev/null 2>&1 || exit 0\ndocker stop -t "$2" "$1" >/dev/null && docker rm "$1" >/dev/null',
      'sh',
      'hello-cache',
      '30',
    ]);
    expect(rm.timeoutMs).toBe(90_000);
    expect(removeAccessoryFiles('.boxship/hello', 'cache', false).argv).toEqual(['sh', '-c', 'rm -f "$1"', 'sh', '.boxship/hello/accessories/cache.env']);
    expect(removeAccessoryFiles('.boxship/hello', 'cache', true).argv).toEqual([
      'sh',
      '-c',
      'rm -f "$1" && rm -rf "$2"',
      'sh',
      '.boxship/hello/accessories/cache.env',
      '.boxship/hello/accessories/cache',
    ]);
  });

  it('waits for the port in the container’s own socket table (hex, LISTEN), whatever the image holds', () => {
    const w = waitListening('hello-cache', 6379, 60);
    expect(w.argv.slice(3)).toEqual(['sh', 'hello-cache', '6379', '18EB', '60']);
    expect(w.argv[2]).toContain('/proc/$3/net/tcp6');
    expect(w.argv[2]).toContain('$4 == "0A"');
    expect(w.timeoutMs).toBe(90_000);
  });

  it('lists accessory images for pruning; instances are listed without accessories', () => {
    expect(listAccessoryImages('hello').argv).toEqual([
      'sh',
      '-c',
      `docker ps -a --filter "label=$1=$2" --filter "label=$3" --format '{{.Label "dev.boxship.accessory"}}\t{{.Image}}'`,
      'sh',
      'dev.boxship.service',
      'hello',
      'dev.boxship.accessory',
    ]);
    expect(parseAccessoryImages('cache\tboxship-test-redis:1\n\nbroken\n')).toEqual([{ name: 'cache', image: 'boxship-test-redis:1' }]);
    expect(listInstances('hello').argv.slice(3)).toEqual(['sh', 'dev.boxship.service', 'hello', 'dev.boxship.slot', '.boxship/hello/draining']);
  });
});

// The orchestration against scripted hosts.
const config = {
  file: '/app/boxship.yml',
  service: 'hello',
  // h2 has no cache: h1 serves it there, at h1's private address.
  hosts: [{ ...hostConfig('h1'), privateAddress: '10.0.0.1' }, hostConfig('h2')],
  accessories: [redis, { ...redis, name: 'other', hosts: ['h2'], port: undefined }],
} as unknown as Config;

/** A local engine that has the image (shipping is then a dry-run note) or not. */
const docker = (has: boolean) =>
  ({ getImage: () => ({ inspect: () => (has ? Promise.resolve({ Id: 'sha256:local' }) : Promise.reject(new Error('no such image'))) }) }) as unknown as Docker;

function ctxFor(hosts: DeployContext['hosts'], events: ProgressEvent[] = []): DeployContext {
  return { config, hosts, who: 'test', command: 'boxship test', report: (e) => events.push(e) };
}

const state = (s: { status: string; running: boolean; image?: string; imageId?: string; spec?: string }) =>
  JSON.stringify({ image: 'boxship-test-redis:1', imageId: 'sha256:host', spec: null, ...s });

/** A scripted host h1 whose accessory container is as given (undefined: none), wrapped in a dry run (no shipping). */
function host(container?: string, hostImage = 'sha256:host') {
  const real = new ScriptedRunner(hostConfig('h1'), [
    { match: /^inspect accessory cache$/, answer: { stdout: container ?? '' } },
    { match: /^check for boxship-test-redis:1$/, answer: { stdout: `${hostImage}\n` } },
    { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nserver=26.1.5\n' } },
  ]);
  return { real, dry: new DryRunRunner(real) };
}

const planned = (d: DryRunRunner) => d.steps.map((s) => s.cmd.why);

describe('accessories on a host', () => {
  it('finds an accessory by name, or names the ones there are', () => {
    expect(findAccessory(config, 'cache')).toBe(redis);
    expect(() => findAccessory(config, 'db')).toThrow(InputError);
    expect(() => findAccessory(config, 'db')).toThrow(/no accessory "db" in \/app\/boxship\.yml/);
  });

  it('setup/rollout: a missing accessory is created (folders, network, env file, image, run, wait); only this host’s', async () => {
    const { dry } = host();
    const results = await ensureAccessories(ctxFor([dry]), dry, docker(true));
    expect(results).toEqual([{ accessory: 'cache', host: 'h1', action: 'created' }]);
    expect(planned(dry)).toEqual([
      'create the boxship-hello network',
      'create the folders of accessory cache',
      'write the env file of accessory cache (mode 0600)',
      'ship the image boxship-test-redis:1 of accessory cache from here (layer-thin, only the layers the host lacks)',
      'start accessory cache (boxship-test-redis:1)',
      'wait until hello-cache listens on port 6379 (up to 120s)',
    ]);
    // The env file's text travels on stdin, never in an argv.
    expect(dry.steps[2]!.stdinBytes).toBe('MAXMEMORY=64mb\n'.length);
    expect(dry.steps.every((s) => !s.cmd.argv.join(' ').includes('64mb'))).toBe(true);
  });

  it('setup/rollout: a running accessory is left alone, even when boxship.yml changed it (a warning says how)', async () => {
    const events: ProgressEvent[] = [];
    const { dry } = host(state({ status: 'running', running: true, image: 'boxship-test-redis:0' }));
    expect(await ensureAccessories(ctxFor([dry], events), dry, docker(true))).toEqual([{ accessory: 'cache', host: 'h1', action: 'unchanged' }]);
    expect(dry.steps).toEqual([]);
    expect(events).toContainEqual({ kind: 'warning', host: 'h1', message: expect.stringContaining('run boxship accessory up cache to recreate it') });
  });

  it('setup/rollout: a stopped accessory is started again (same container, same data)', async () => {
    const { dry } = host(state({ status: 'exited', running: false }));
    expect(await ensureAccessories(ctxFor([dry]), dry, docker(true))).toEqual([{ accessory: 'cache', host: 'h1', action: 'started' }]);
    expect(planned(dry)).toEqual(['start accessory cache', 'wait until hello-cache listens on port 6379 (up to 120s)']);
  });

  it('an image neither here nor on the host is bad input; one only on the host is used with a warning', async () => {
    const missing = new ScriptedRunner(hostConfig('h1'), [{ match: /^check for /, answer: { code: 1, stderr: 'No such image' } }]);
    await expect(ensureAccessories(ctxFor([missing]), missing, docker(false))).rejects.toThrow(
      /the image boxship-test-redis:1 is neither in the Docker engine here nor on h1/,
    );
    expect(missing.whys()).not.toContain('start accessory cache (boxship-test-redis:1)');
    const events: ProgressEvent[] = [];
    const { dry } = host();
    await ensureAccessories(ctxFor([dry], events), dry, docker(false));
    expect(events).toContainEqual({
      kind: 'warning',
      host: 'h1',
      message: 'accessory cache: boxship-test-redis:1 is not in the Docker engine here; using the one the host has',
    });
    expect(planned(dry)).toContain('start accessory cache (boxship-test-redis:1)');
  });

  it('up: running as configured is left alone; another image tag or a rebuilt tag recreates it on the same data', async () => {
    const spec = accessorySpec(redis, accessoryEnvText(redis.env), '10.0.0.1');
    const same = host(state({ status: 'running', running: true, spec }));
    expect(await accessoryUp(ctxFor([same.dry]), same.dry, docker(true), redis)).toEqual({ accessory: 'cache', host: 'h1', action: 'unchanged' });
    expect(planned(same.dry)).not.toContain('start accessory cache (boxship-test-redis:1)');

    const retagged = host(state({ status: 'running', running: true, spec, image: 'boxship-test-redis:0' }));
    expect((await accessoryUp(ctxFor([retagged.dry]), retagged.dry, docker(true), redis)).action).toBe('recreated');
    expect(planned(retagged.dry).slice(-4)).toEqual([
      'create the new container of accessory cache beside the old one (boxship-test-redis:1)',
      'stop accessory cache (up to 30s to shut down) and start the new container in its place',
      'wait until hello-cache listens on port 6379 (up to 120s)',
      'remove the old container of accessory cache',
    ]);
    expect(retagged.dry.steps.at(-4)!.cmd.argv.slice(5, 11)).toEqual(['docker', 'create', '--pull', 'never', '--name', 'hello-cache.next']);

    const rebuilt = host(state({ status: 'running', running: true, spec }), 'sha256:rebuilt');
    expect((await accessoryUp(ctxFor([rebuilt.dry]), rebuilt.dry, docker(true), redis)).action).toBe('recreated');

    const settings = host(state({ status: 'running', running: true, spec: 'old' }));
    expect((await accessoryUp(ctxFor([settings.dry]), settings.dry, docker(true), redis)).action).toBe('recreated');
  });

  it('up: an accessory started before another host needed it (not published on the private address) is recreated, published there', async () => {
    const unpublished = accessorySpec(redis, accessoryEnvText(redis.env));
    expect(unpublished).not.toBe(accessorySpec(redis, accessoryEnvText(redis.env), '10.0.0.1'));
    const before = host(state({ status: 'running', running: true, spec: unpublished }));
    expect((await accessoryUp(ctxFor([before.dry]), before.dry, docker(true), redis)).action).toBe('recreated');
    const create = before.dry.steps.find((s) => s.cmd.why.startsWith('create the new container'))!.cmd.argv;
    expect(create.slice(create.indexOf('-p'), create.indexOf('-p') + 2)).toEqual(['-p', '10.0.0.1:6379:6379']);
    expect(create.filter((w) => w === '-p')).toHaveLength(1);
  });

  it('up: a new container Docker cannot create leaves the old one running, untouched', async () => {
    const h = new ScriptedRunner(hostConfig('h1'), [
      { match: /^inspect accessory cache$/, answer: { stdout: state({ status: 'running', running: true, image: 'boxship-test-redis:0' }) } },
      { match: /^check for /, answer: { stdout: 'sha256:host\n' } },
      { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nserver=26.1.5\n' } },
      { match: /^create the new container/, answer: { code: 125, stderr: 'Error: No such image: boxship-test-redis:1' } },
    ]);
    await expect(accessoryUp(ctxFor([h]), h, docker(false), redis)).rejects.toThrow(
      /h1: accessory cache: cannot create its new container \(boxship-test-redis:1\): Error: No such image.*; the old one runs on/,
    );
    expect(h.whys().filter((w) => /stop|remove|put the old/.test(w))).toEqual([]);
  });

  it('up: a new container that does not start or listen is removed and the old one started again', async () => {
    for (const fault of [/^stop accessory cache .* start the new container/, /^wait until hello-cache listens/]) {
      const h = new ScriptedRunner(hostConfig('h1'), [
        { match: /^inspect accessory cache$/, answer: { stdout: state({ status: 'running', running: true, image: 'boxship-test-redis:0' }) } },
        { match: /^check for /, answer: { stdout: 'sha256:host\n' } },
        { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nserver=26.1.5\n' } },
        { match: fault, answer: { code: 3, stderr: 'exec: "no-such-server": executable file not found in $PATH' } },
      ]);
      await expect(accessoryUp(ctxFor([h]), h, docker(false), redis)).rejects.toThrow(
        /h1: accessory cache: its new container did not start: exec: "no-such-server".*; the old container runs again on the same data/,
      );
      expect(h.whys().slice(-1)).toEqual(['put the old container of accessory cache back and start it']);
      expect(h.whys()).not.toContain('remove the old container of accessory cache');
    }
  });

  it('restart: the same container; none is an error saying to run up', async () => {
    const { dry } = host(state({ status: 'running', running: true }));
    expect(await accessoryRestart(ctxFor([dry]), dry, redis)).toEqual({ accessory: 'cache', host: 'h1', action: 'restarted' });
    expect(planned(dry)).toEqual(['restart accessory cache', 'wait until hello-cache listens on port 6379 (up to 120s)']);
    const none = host();
    await expect(accessoryRestart(ctxFor([none.dry]), none.dry, redis)).rejects.toThrow(/has no container \(hello-cache\) to restart/);
  });

  it('down keeps the data folders; --remove-data removes them; no container: nothing to stop', async () => {
    const { dry } = host(state({ status: 'running', running: true }));
    expect(await accessoryDown(ctxFor([dry]), dry, redis, false)).toEqual({ accessory: 'cache', host: 'h1', action: 'removed' });
    expect(planned(dry)).toEqual(['stop and remove accessory cache (up to 30s to shut down)', 'remove the env file of accessory cache (its data stays)']);
    const gone = host();
    expect(await accessoryDown(ctxFor([gone.dry]), gone.dry, redis, true)).toEqual({ accessory: 'cache', host: 'h1', action: 'absent', dataRemoved: true });
    expect(planned(gone.dry)).toEqual(['remove the env file and the DATA of accessory cache']);
  });

  it('a failed start says what the accessory printed and how to go on', async () => {
    const h = new ScriptedRunner(hostConfig('h1'), [
      { match: /^check for /, answer: { stdout: 'sha256:host\n' } },
      {
        match: /^wait until hello-cache listens/,
        answer: {
          code: 3,
          stderr: 'hello-cache exited with code 1 before it listened on port 6379; its last lines:\n  Bad directive or wrong number of arguments',
        },
      },
    ]);
    await expect(ensureAccessories(ctxFor([h]), h, docker(false))).rejects.toThrow(
      /h1: accessory cache did not start: hello-cache exited with code 1.*Bad directive/s,
    );
  });
});
