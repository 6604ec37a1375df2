/** backend: swarm, the pure parts: node matching, placement constraints, command lines, health gates, proxy config. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { toShell } from '../../src/hosts/command.js';
import { ensureOverlayNetwork, nodeTasks, parseNodeTasks, parseTasks, probeTools } from '../../src/swarm/commands.js';
import { createService, parseServiceSpec, type ServiceSpec, updateService } from '../../src/swarm/service-spec.js';
import { chooseGate, describeGate, healthCommand, healthFlags, imageHealthcheck, monitorSeconds, type HealthSettings } from '../../src/swarm/health.js';
import { matchesConstraints, matchNodes, parseEngineSwarm, parseNodes, schedulable, shipTargets, type SwarmNode } from '../../src/swarm/nodes.js';
import { swarmProxyConfigText, swarmTrafficHandler } from '../../src/swarm/proxy.js';
import { FORWARDED_FROM_EDGE } from '../../src/proxy/caddy-config.js';
import { judgeMembership } from '../../src/swarm/session.js';

const node = (over: Partial<SwarmNode> & { id: string; hostname: string }): SwarmNode => ({
  role: 'worker',
  availability: 'active',
  state: 'ready',
  addr: '10.0.0.1',
  os: 'linux',
  arch: 'x86_64',
  labels: {},
  engineLabels: {},
  leader: false,
  ...over,
});

const m1 = node({ id: 'aaa111', hostname: 'm1', role: 'manager', leader: true, addr: '10.0.0.1', labels: { web: 'true' } });
const w1 = node({ id: 'bbb222', hostname: 'w1', addr: '10.0.0.2', labels: { web: 'true' } });
const w2 = node({ id: 'ccc333', hostname: 'w2', addr: '10.0.0.3', arch: 'aarch64' });
const engine = (id: string, control = false) => ({ nodeId: id, state: 'active', control });

describe('swarm nodes against hosts', () => {
  it('parses docker node inspect and docker info', () => {
    const text = JSON.stringify([
      {
        ID: 'bbb222',
        Spec: { Role: 'worker', Availability: 'drain', Labels: { web: 'true' } },
        Description: { Hostname: 'w1', Platform: { Architecture: 'x86_64', OS: 'linux' }, Engine: { Labels: null } },
        Status: { State: 'ready', Addr: '10.0.0.2' },
      },
      {
        ID: 'aaa111',
        Spec: { Role: 'manager', Availability: 'active', Labels: {} },
        Description: { Hostname: 'm1', Platform: { Architecture: 'x86_64', OS: 'linux' }, Engine: {} },
        Status: { State: 'ready', Addr: '0.0.0.0' },
        ManagerStatus: { Leader: true, Addr: '10.0.0.1:2377' },
      },
    ]);
    expect(parseNodes(text)).toEqual([
      {
        id: 'aaa111',
        hostname: 'm1',
        role: 'manager',
        availability: 'active',
        state: 'ready',
        addr: '10.0.0.1',
        os: 'linux',
        arch: 'x86_64',
        labels: {},
        engineLabels: {},
        leader: true,
      },
      {
        id: 'bbb222',
        hostname: 'w1',
        role: 'worker',
        availability: 'drain',
        state: 'ready',
        addr: '10.0.0.2',
        os: 'linux',
        arch: 'x86_64',
        labels: { web: 'true' },
        engineLabels: {},
        leader: false,
      },
    ]);
    expect(parseEngineSwarm('{"NodeID":"aaa111","LocalNodeState":"active","ControlAvailable":true,"Cluster":{"ID":"c1"}}')).toEqual({
      nodeId: 'aaa111',
      state: 'active',
      control: true,
      clusterId: 'c1',
    });
    expect(parseEngineSwarm('{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false}')).toEqual({ nodeId: '', state: 'inactive', control: false });
  });

  it('pairs each host with its node by node ID', () => {
    const match = matchNodes(
      [m1, w1],
      [
        { host: 'root@m', engine: engine('aaa111', true) },
        { host: 'root@w', engine: engine('bbb222') },
      ],
    );
    expect(match.pairs.map((p) => `${p.host}=${p.node.hostname}`)).toEqual(['root@m=m1', 'root@w=w1']);
    expect(match).toMatchObject({ missingFromHosts: [], notInSwarm: [], unreachable: [] });
  });

  it('names the node missing from hosts and the host missing from the swarm, either side', () => {
    const match = matchNodes(
      [m1, w1, w2],
      [
        { host: 'root@m', engine: engine('aaa111', true) },
        { host: 'root@x', engine: { nodeId: '', state: 'inactive', control: false } },
        { host: 'root@y', engine: engine('zzz999') },
        { host: 'root@m2', engine: engine('aaa111', true) },
      ],
    );
    expect(match.missingFromHosts.map((n) => n.hostname)).toEqual(['w1', 'w2']);
    expect(match.notInSwarm).toEqual([
      { host: 'root@x', why: 'its Docker engine is not part of any swarm' },
      { host: 'root@y', why: 'its engine is node zzz999 of another swarm' },
      { host: 'root@m2', why: 'it leads to the same node as root@m (m1)' },
    ]);
    const verdict = judgeMembership(match, 'root@m');
    expect(verdict.problems).toEqual([
      'root@x (in hosts) is not a node of the swarm managed by root@m: its Docker engine is not part of any swarm',
      'root@y (in hosts) is not a node of the swarm managed by root@m: its engine is node zzz999 of another swarm',
      'root@m2 (in hosts) is not a node of the swarm managed by root@m: it leads to the same node as root@m (m1)',
      'swarm node w1 (worker, 10.0.0.2, ready, id bbb222) is not in hosts: it may run tasks but would never get a release',
      'swarm node w2 (worker, 10.0.0.3, ready, id ccc333) is not in hosts: it may run tasks but would never get a release',
    ]);
  });

  it('an unreachable host whose node is down is a warning; one that is not explained stays an error', () => {
    const down = { ...w1, state: 'down' };
    const explained = judgeMembership(
      matchNodes(
        [m1, down],
        [
          { host: 'root@m', engine: engine('aaa111', true) },
          { host: 'root@w', error: 'connect ECONNREFUSED' },
        ],
      ),
      'root@m',
    );
    expect(explained.problems).toEqual([]);
    expect(explained.unreachable).toEqual([]);
    expect(explained.warnings).toEqual([
      'cannot reach root@w; swarm node(s) w1, not ready (down), get no tasks: going on without them (they get the releases on the next release or setup)',
    ]);
    const ready = judgeMembership(
      matchNodes(
        [m1, w1],
        [
          { host: 'root@m', engine: engine('aaa111', true) },
          { host: 'root@w', error: 'connect ECONNREFUSED' },
        ],
      ),
      'root@m',
    );
    expect(ready.problems).toEqual(['swarm node w1 (worker, 10.0.0.2, ready, id bbb222) is not in hosts: it may run tasks but would never get a release']);
    expect(ready.unreachable).toEqual([{ host: 'root@w', error: 'connect ECONNREFUSED' }]);
  });

  it('evaluates placement constraints as Swarm does (case-insensitive, a missing label is "")', () => {
    expect(matchesConstraints(m1, ['node.role==manager'])).toBe(true);
    expect(matchesConstraints(w1, ['node.role==manager'])).toBe(false);
    expect(matchesConstraints(w1, ['node.labels.web==TRUE'])).toBe(true);
    expect(matchesConstraints(w2, ['node.labels.web!=true'])).toBe(true);
    expect(matchesConstraints(w2, ['node.platform.arch==arm64'])).toBe(true);
    expect(matchesConstraints(m1, ['node.platform.arch==amd64', 'node.hostname!=w1'])).toBe(true);
    expect(matchesConstraints(m1, ['engine.labels.zone==a'])).toBe(false);
  });

  it('ships to ready nodes matching the constraints, drained ones included; schedules only on active ones', () => {
    const drained = { ...w1, availability: 'drain' as const };
    const down = { ...w2, state: 'down' };
    expect(shipTargets([m1, drained, down], []).map((n) => n.hostname)).toEqual(['m1', 'w1']);
    expect(schedulable([m1, drained, down], []).map((n) => n.hostname)).toEqual(['m1']);
    expect(shipTargets([m1, w1, w2], ['node.labels.web==true']).map((n) => n.hostname)).toEqual(['m1', 'w1']);
  });
});

const h: HealthSettings = { path: '/health', port: 3000, intervalMs: 500, timeoutMs: 2000, retries: 20 };

describe('health gates', () => {
  it("uses the image's HEALTHCHECK when it has one", () => {
    expect(imageHealthcheck('null')).toBeUndefined();
    expect(imageHealthcheck('{"Test":["NONE"]}')).toBeUndefined();
    const own = imageHealthcheck('{"Test":["CMD-SHELL","curl -f localhost/up"],"Interval":1000000000}');
    expect(own).toEqual(['CMD-SHELL', 'curl -f localhost/up']);
    expect(chooseGate(own, 'curl\n', h)).toEqual({ kind: 'image', test: ['CMD-SHELL', 'curl -f localhost/up'] });
  });

  it('else derives one from healthcheck: with the first HTTP client the image has', () => {
    expect(chooseGate(undefined, 'node\n', h)).toEqual({ kind: 'derived', tool: 'node', command: healthCommand('node', h) });
    expect(healthCommand('curl', h)).toBe('curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:3000/health');
    expect(healthCommand('wget', { ...h, path: "/a'b" })).toBe("wget -q -O /dev/null -T 2 'http://127.0.0.1:3000/a'\\''b'");
    expect(healthCommand('node', h)).toBe(
      `node -e 'require("http").get(process.argv[1],(r)=>process.exit(r.statusCode>=200&&r.statusCode<300?0:1)).on("error",()=>process.exit(1))' http://127.0.0.1:3000/health`,
    );
    expect(healthCommand('python3', h)).toBe(
      "python3 -c 'import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=2)' http://127.0.0.1:3000/health",
    );
  });

  it('else says plainly that it can only gate on running', () => {
    const gate = chooseGate(undefined, '', h);
    expect(gate).toEqual({ kind: 'running' });
    expect(describeGate(gate)).toBe('only "running": the image has no HEALTHCHECK and no curl, wget, node or python3 to probe healthcheck.path with');
    expect(monitorSeconds(gate, h)).toBe(10);
    expect(monitorSeconds({ kind: 'image', test: ['CMD', 'x'] }, h)).toBe(5);
  });

  it('flags: a derived check is set; the image check (or none) is the spec check cleared', () => {
    expect(healthFlags({ kind: 'derived', tool: 'curl', command: 'curl x' }, h)).toEqual([
      '--health-cmd',
      'curl x',
      '--health-interval',
      '500ms',
      '--health-timeout',
      '2000ms',
      '--health-retries',
      '20',
      '--health-start-period',
      '0s',
    ]);
    expect(healthFlags({ kind: 'running' }, h)).toEqual([
      '--health-cmd',
      '',
      '--health-interval',
      '0s',
      '--health-timeout',
      '0s',
      '--health-retries',
      '0',
      '--health-start-period',
      '0s',
    ]);
  });
});

const spec: ServiceSpec = {
  name: 'hello',
  service: 'hello',
  image: 'hello:abc123',
  tag: 'abc123',
  replicas: 4,
  constraints: ['node.labels.web==true'],
  health: ['--health-cmd', 'curl x', '--health-interval', '500ms'],
  monitorSeconds: 5,
  stopGraceSeconds: 12,
  stopSignal: 'SIGINT',
  mounts: [{ source: '/root/.boxship/hello/volumes/db', target: '/app/db', readOnly: false }],
};
const POLICY = [
  '--replicas',
  '4',
  '--update-parallelism',
  '1',
  '--update-order',
  'start-first',
  '--update-failure-action',
  'rollback',
  '--update-monitor',
  '5s',
  '--update-max-failure-ratio',
  '0',
  '--update-delay',
  '0s',
  '--rollback-parallelism',
  '1',
  '--rollback-order',
  'start-first',
  '--rollback-failure-action',
  'pause',
  '--rollback-monitor',
  '5s',
  '--stop-grace-period',
  '12s',
  '--health-cmd',
  'curl x',
  '--health-interval',
  '500ms',
];
describe('swarm command lines', () => {
  it('creates the service on the overlay network with dnsrr, the upstream alias and a start-first rolling policy, the stop signal', () => {
    expect(createService(spec, '/root/.boxship/hello/app.env').argv).toEqual([
      'docker',
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'hello',
      '--label',
      'dev.boxship.service=hello',
      '--endpoint-mode',
      'dnsrr',
      '--network',
      'name=boxship-hello,alias=hello-upstream',
      ...POLICY,
      '--stop-signal',
      'SIGINT',
      '--constraint',
      'node.labels.web==true',
      '--mount',
      'type=bind,source=/root/.boxship/hello/volumes/db,target=/app/db',
      '--env',
      'BOXSHIP_SHA=abc123',
      '--env',
      'BOXSHIP_INSTANCE={{.Service.Name}}.{{.Task.Slot}}',
      '--env-file',
      '/root/.boxship/hello/app.env',
      'hello:abc123',
    ]);
  });

  it('updates image, policy, stop signal and what changed, never resolving the image against a registry', () => {
    const current = {
      image: 'hello:old',
      envKeys: ['PORT', 'GONE', 'BOXSHIP_SHA'],
      constraints: ['node.role==worker', 'node.labels.web == true'],
      mountTargets: ['/app/db', '/app/old'],
    };
    const update = updateService(spec, current, '/root/.boxship/hello/app.env', ['PORT', 'LOG_LEVEL']);
    expect(update.argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(update.argv.slice(3)).toEqual([
      'sh',
      '/root/.boxship/hello/app.env',
      'hello',
      'docker',
      'service',
      'update',
      '--detach',
      '--no-resolve-image',
      '--image',
      'hello:abc123',
      ...POLICY,
      '--stop-signal',
      'SIGINT',
      '--constraint-rm',
      'node.role==worker',
      '--mount-rm',
      '/app/old',
      '--mount-add',
      'type=bind,source=/root/.boxship/hello/volumes/db,target=/app/db',
      '--env-rm',
      'GONE',
      '--env-add',
      'BOXSHIP_SHA=abc123',
      '--env-add',
      'BOXSHIP_INSTANCE={{.Service.Name}}.{{.Task.Slot}}',
    ]);
  });

  it('quotes each --mount field as CSV: a comma or quote in a path cannot add a field (a second source=)', () => {
    const odd = {
      ...spec,
      mounts: [
        { source: '/home/a,b/.boxship/hello/volumes/db', target: '/d,source=/', readOnly: true },
        { source: '/s', target: '/q"x', readOnly: false },
      ],
    };
    const mounts = (argv: string[], flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
    const want = ['type=bind,"source=/home/a,b/.boxship/hello/volumes/db","target=/d,source=/",readonly', 'type=bind,source=/s,"target=/q""x"'];
    expect(mounts(createService(odd, '/e').argv, '--mount')).toEqual(want);
    expect(mounts(updateService(odd, { image: 'x', envKeys: [], constraints: [], mountTargets: [] }, '/e', []).argv, '--mount-add')).toEqual(want);
  });

  describe('env values never in a command line on the manager', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'boxship-swarm-env-'));
      // A stand-in docker CLI that records its argv and its environment (node, not sh: sh would not pass IFS on).
      const record = `require('fs').writeFileSync(${JSON.stringify(`${dir}/argv`)}, process.argv.slice(2).join('\\n'));
require('fs').writeFileSync(${JSON.stringify(`${dir}/env`)}, Object.entries(process.env).map(([k, v]) => k + '=' + v).join('\\n'));`;
      writeFileSync(path.join(dir, 'docker'), `#!${process.execPath}\n${record}\n`, { mode: 0o755 });
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const run = (cmd: { argv: string[] }) => spawnSync(cmd.argv[0]!, cmd.argv.slice(1), { env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir }, encoding: 'utf8' });

    it('create reads the env file in the docker CLI (--env-file), update passes each variable by name from its environment', () => {
      const envFile = path.join(dir, 'app.env');
      // Lower-case names like the script's own would-be variables, HOME, PATH and IFS: none may disturb the call.
      writeFileSync(envFile, "DB_PASSWORD=s3cret value $(x) 'q'\nPORT=3000\nkv=a\nf=b\nHOME=/app\nPATH=/app/bin\nIFS=,\nEMPTY=\nLAST=no newline");
      const current = { image: 'x', envKeys: [], constraints: [], mountTargets: [] };
      const update = updateService(spec, current, envFile, ['DB_PASSWORD']);
      expect(toShell(update)).not.toContain('s3cret');
      const r = run(update);
      expect(r.status, r.stderr).toBe(0);
      const argv = readFileSync(path.join(dir, 'argv'), 'utf8');
      expect(argv).not.toContain('s3cret');
      expect(argv).not.toContain('no newline');
      expect(argv.trimEnd().split('\n').slice(-19)).toEqual([
        ...['DB_PASSWORD', 'PORT', 'kv', 'f', 'HOME', 'PATH', 'IFS', 'EMPTY', 'LAST'].flatMap((k) => ['--env-add', k]),
        'hello',
      ]);
      const env = readFileSync(path.join(dir, 'env'), 'utf8').split('\n');
      for (const kv of ["DB_PASSWORD=s3cret value $(x) 'q'", 'PORT=3000', 'kv=a', 'f=b', 'HOME=/app', 'PATH=/app/bin', 'IFS=,', 'EMPTY=', 'LAST=no newline']) {
        expect(env).toContain(kv);
      }
      // The app's HOME does not move the CLI's own config (contexts, auth).
      expect(env).toContain(`DOCKER_CONFIG=${dir}/.docker`);

      const create = createService(spec, envFile);
      expect(create.argv).toContain('--env-file');
      expect(toShell(create)).not.toContain('s3cret');
    });

    it('update refuses a DOCKER_* variable, which would steer the docker CLI itself', () => {
      const envFile = path.join(dir, 'app.env');
      writeFileSync(envFile, 'A=1\nDOCKER_HOST=tcp://elsewhere:2375\n');
      const r = run(updateService(spec, { image: 'x', envKeys: [], constraints: [], mountTargets: [] }, envFile, []));
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('DOCKER_HOST');
      expect(existsSync(path.join(dir, 'argv'))).toBe(false);
    });
  });

  it('creates an attachable overlay network, refusing a same-named network of another driver', () => {
    const cmd = ensureOverlayNetwork('boxship-hello');
    expect(cmd.argv.slice(3)).toEqual(['sh', 'boxship-hello']);
    expect(cmd.argv[2]).toContain('docker network create --driver overlay --attachable "$1"');
    expect(cmd.argv[2]).toContain('exists with driver $d, not overlay');
  });

  it('probes the image for an HTTP client without network or registry', () => {
    expect(probeTools('hello:abc').argv).toEqual([
      'docker',
      'run',
      '--rm',
      '--pull',
      'never',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      'hello:abc',
      '-c',
      'for t in curl wget node python3; do if command -v "$t" >/dev/null 2>&1; then echo "$t"; exit 0; fi; done; exit 0',
    ]);
    expect(probeTools('hello:abc').effect).toBe('read');
  });

  it('parses service inspect, service ps and the tasks on a node', () => {
    const inspect = JSON.stringify([
      {
        Spec: {
          TaskTemplate: {
            ContainerSpec: { Image: 'hello:abc', Env: ['PORT=3000', 'A=b=c'], Mounts: [{ Target: '/app/db' }], Healthcheck: { Test: ['CMD-SHELL', 'x'] } },
            Placement: { Constraints: ['node.role==worker'] },
          },
          Mode: { Replicated: { Replicas: 4 } },
        },
        UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed', StartedAt: '2026-01-01T00:00:00Z' },
      },
    ]);
    expect(parseServiceSpec(inspect)).toEqual({
      image: 'hello:abc',
      envKeys: ['PORT', 'A'],
      constraints: ['node.role==worker'],
      mountTargets: ['/app/db'],
      replicas: 4,
      updateState: 'rollback_completed',
      updateMessage: 'rollback completed',
      updateStartedAt: '2026-01-01T00:00:00Z',
      healthcheck: ['CMD-SHELL', 'x'],
    });
    expect(parseServiceSpec('[]')).toBeUndefined();
    expect(
      parseTasks('{"ID":"t1","Name":"hello.1","Image":"hello:abc","Node":"m1","DesiredState":"Running","CurrentState":"Running 5 seconds ago","Error":""}\n'),
    ).toEqual([{ id: 't1', name: 'hello.1', image: 'hello:abc', node: 'm1', desired: 'Running', current: 'Running 5 seconds ago', error: '' }]);
    expect(nodeTasks().argv).toEqual([
      'docker',
      'ps',
      '--filter',
      'label=com.docker.swarm.service.name',
      '--format',
      '{{.Label "com.docker.swarm.task.name"}}\t{{.Image}}\t{{.Status}}\t{{.Label "com.docker.swarm.service.name"}}',
    ]);
    const onNode =
      'hello.10.x1\thello:abc\tUp 3 minutes (healthy)\thello\nhello.2.x2\thello:abc\tUp 1 second (health: starting)\thello\nother.1.x\tother:1\tUp 1 hour\tother\nhello-canary.1.x3\thello:new\tUp 2 minutes\thello-canary\n';
    expect(parseNodeTasks(onNode, ['hello', 'hello-canary'])).toEqual([
      { task: 'hello.2', image: 'hello:abc', status: 'Up 1 second (health: starting)', service: 'hello', health: 'starting' },
      { task: 'hello.10', image: 'hello:abc', status: 'Up 3 minutes (healthy)', service: 'hello', health: 'healthy' },
      { task: 'hello-canary.1', image: 'hello:new', status: 'Up 2 minutes', service: 'hello-canary', health: 'no check' },
    ]);
  });
});

describe('swarm proxy config', () => {
  it('proxies to the tasks the upstream alias resolves to on the overlay network, refreshed every second', () => {
    expect(swarmTrafficHandler('hello', 3000)).toEqual({
      handler: 'reverse_proxy',
      dynamic_upstreams: { source: 'a', name: 'hello-upstream', port: '3000', refresh: '1s' },
      load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '3s', try_interval: '50ms' },
      headers: FORWARDED_FROM_EDGE,
      transport: { protocol: 'http', dial_timeout: '500ms' },
    });
  });
});

describe('backend: swarm in boxship.yml', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'boxship-swarm-'));
    file = path.join(dir, 'boxship.yml');
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const load = (...lines: string[]) => {
    writeFileSync(file, `${[...lines, 'ssh: { config_file: none }'].join('\n')}\n`);
    return loadConfig(file);
  };
  const problems = (...lines: string[]) => {
    try {
      load(...lines);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    }
    throw new Error('expected the config to be rejected');
  };

  it('defaults: the first host is the manager, one replica per host, no constraints', () => {
    const c = load('service: hello', 'backend: swarm', 'hosts: [root@10.0.0.1, root@10.0.0.2:2222]');
    expect(c.swarm).toEqual({ manager: 'root@10.0.0.1', replicas: 2, constraints: [] });
    expect(load('service: hello', 'hosts: [root@10.0.0.1]').swarm).toBeUndefined();
  });

  it('the manager by its address as in hosts; constraints normalised', () => {
    const c = load(
      'service: hello',
      'backend: swarm',
      'hosts: [root@10.0.0.1, root@10.0.0.2:2222]',
      'swarm:',
      '  manager: 10.0.0.2:2222',
      '  replicas: 6',
      '  constraints: ["node.labels.web == true"]',
    );
    expect(c.swarm).toEqual({ manager: 'root@10.0.0.2:2222', replicas: 6, constraints: ['node.labels.web==true'] });
  });

  it('refuses what only the per-host backend reads, and a manager that is not a host', () => {
    expect(
      problems(
        'service: hello',
        'backend: swarm',
        'hosts:',
        '  - root@10.0.0.1',
        '  - { address: root@10.0.0.2, instances: 3 }',
        'swarm: { manager: root@10.0.0.9 }',
        'hooks: { pre_rollout: echo hi }',
      ),
    ).toEqual([
      '5:42 hosts[1].instances: per-host instances do not apply with backend: swarm',
      '6:19 swarm.manager: "root@10.0.0.9" is not one of hosts',
      '7:23 hooks.pre_rollout: the pre_rollout hook is not supported with backend: swarm yet',
    ]);
    expect(problems('service: hello', 'hosts: [root@10.0.0.1]', 'swarm: { replicas: 2 }')).toEqual(['3:8 swarm: swarm: is only read with backend: swarm']);
    expect(problems('service: hello', 'backend: swarm', 'hosts: [root@10.0.0.1]', 'accessories: { db: { image: "redis:7" } }')).toEqual([
      '4:14 accessories: accessories are not supported with backend: swarm yet',
    ]);
    expect(problems('service: hello', 'backend: kubernetes', 'hosts: [root@10.0.0.1]')[0]).toMatch(/^2:10 backend: expected hosts or swarm/);
    expect(problems('service: hello', 'backend: swarm', 'hosts: [root@10.0.0.1]', 'swarm: { constraints: [node.foo==bar] }')[0]).toMatch(
      /swarm\.constraints\[0\]: expected a placement constraint/,
    );
  });

  it('the proxy config keeps the health endpoint, maintenance and the 503 answers of the per-host proxy', () => {
    const c = load('service: hello', 'backend: swarm', 'hosts: [root@10.0.0.1]');
    const json = JSON.parse(swarmProxyConfigText(c)) as {
      apps: {
        http: {
          servers: {
            boxship: {
              routes: { match?: unknown[]; handle: { handler: string }[] }[];
              errors: { routes: { handle: { status_code: number; headers: Record<string, string[]> }[] }[] };
            };
          };
        };
      };
    };
    const server = json.apps.http.servers.boxship;
    expect(server.routes.map((r) => r.handle[0]!.handler)).toEqual(['static_response', 'templates', 'reverse_proxy']);
    expect(server.routes[2]!.handle[0]).toEqual(swarmTrafficHandler('hello', 3000));
    expect(server.errors.routes.map((r) => [r.handle[0]!.status_code, r.handle[0]!.headers['Retry-After'], r.handle[0]!.headers['X-Backoff']])).toEqual([
      [503, ['5'], ['5']],
      [503, ['5'], ['5']],
    ]);
  });
});
