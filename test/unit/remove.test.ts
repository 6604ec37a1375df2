/** `boxship remove`: its remote commands (exact argv) and what it does on scripted hosts shared with other services. */
import { describe, expect, it } from 'vitest';
import type { AccessoryConfig, Config } from '../../src/config/types.js';
import { removeRouterSocket } from '../../src/edge/commands.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import {
  finishStateDir,
  listServiceContainers,
  removeNetwork,
  removeReleaseImage,
  removeServiceContainers,
  removeStateFiles,
} from '../../src/remove/commands.js';
import { removeEverywhere } from '../../src/remove/run.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { hostConfig, type Rule, ScriptedRunner } from '../helpers/scripted-runner.js';

const LIST = 'for l in "$1=$2" "$3=$2"; do docker ps -a --filter "label=$l" --format "{{.Names}}"; done | sort -u';

describe('remove commands', () => {
  it('finds the containers of the service by its labels only (instances, accessories, one-offs)', () => {
    expect(listServiceContainers('hello')).toEqual({
      argv: ['sh', '-c', LIST, 'sh', 'dev.boxship.service', 'hello', 'dev.boxship.one-off'],
      why: 'list the containers of hello',
      effect: 'read',
    });
  });

  it('stops (with the stop timeout) and removes them, and fails naming any that is left', () => {
    const c = removeServiceContainers('hello', 30);
    expect(c.argv).toEqual([
      'sh',
      '-c',
      [
        `ids=$(${LIST})`,
        '[ -n "$ids" ] || exit 0',
        'docker stop -t "$4" $ids >/dev/null 2>&1 || true',
        'docker rm -f $ids >/dev/null 2>&1 || true',
        `left=$(${LIST} | tr "\\n" " ")`,
        '[ -z "$left" ] || { echo "still there: $left" >&2; exit 1; }',
      ].join('\n'),
      'sh',
      'dev.boxship.service',
      'hello',
      'dev.boxship.one-off',
      '30',
    ]);
    expect(c.effect).toBe('write');
    expect(c.timeoutMs).toBe(90_000);
  });

  it('removes the network, a release image by its tag (never forced), the router socket of the edge', () => {
    expect(removeNetwork('hello').argv).toEqual([
      'sh',
      '-c',
      'docker network inspect "$1" >/dev/null 2>&1 || { echo absent; exit 0; }\ndocker network rm "$1" >/dev/null',
      'sh',
      'boxship-hello',
    ]);
    expect(removeReleaseImage('hello', 'abc123').argv).toEqual([
      'sh',
      '-c',
      'docker image inspect "$1" >/dev/null 2>&1 || { echo absent; exit 0; }\ndocker image rm "$1" >/dev/null',
      'sh',
      'hello:abc123',
    ]);
    expect(removeRouterSocket('hello')).toEqual({
      argv: ['docker', 'exec', '-i', 'boxship-edge', 'sh', '-c', 'rm -f "$1"', 'sh', '/run/boxship-edge/sockets/hello.sock'],
      why: 'remove the router socket of hello from the edge',
      effect: 'write',
    });
  });

  it('empties the state dir but for the lock and the audit log, and the data folders unless the data goes too', () => {
    const body = (keep: string) =>
      [
        'cd "$1" 2>/dev/null || exit 0',
        `for f in * .[!.]*; do case "$f" in ${keep}) ;; *) rm -rf "./$f";; esac; done`,
        'rm -f accessories/*.env',
        'for d in volumes accessories; do [ -d "$d" ] && find "$d" -depth -type d -empty -delete; done; true',
      ].join('\n');
    expect(removeStateFiles('.boxship/hello', true).argv).toEqual(['sh', '-c', body('lock|audit.log|volumes|accessories'), 'sh', '.boxship/hello']);
    expect(removeStateFiles('.boxship/hello', false).argv).toEqual(['sh', '-c', body('lock|audit.log'), 'sh', '.boxship/hello']);
    expect(finishStateDir('.boxship/hello').argv).toEqual([
      'sh',
      '-c',
      '[ -d "$1" ] || exit 0\n[ -d "$1/lock" ] && { echo locked; exit 0; }\nrm -f "$1/audit.log"\nrmdir "$1" 2>/dev/null || echo kept',
      'sh',
      '.boxship/hello',
    ]);
  });
});

const cache: AccessoryConfig = { name: 'cache', image: 'redis:7', hosts: ['h1'], env: {}, volumes: [], stopTimeoutSeconds: 20 };
const config = {
  file: '/app/boxship.yml',
  service: 'hello',
  hosts: [hostConfig('h1')],
  app: { stopTimeoutSeconds: 30 },
  accessories: [cache],
} as unknown as Config;

const ledger = ['t1', 't2', 't3']
  .map((tag) => JSON.stringify({ tag, sha: tag, imageId: `sha256:${tag}`, time: '2026-01-01T00:00:00Z', user: 'u', bytes: 1 }))
  .join('\n');

/** h1 shares its edge with the service web (`others`: its route entries), hello has app.example.com and /api there. */
function host(others = 'web.example.com root web\n', extra: Rule[] = []) {
  // Earlier rules win: `extra` overrides the defaults below.
  return new ScriptedRunner(hostConfig('h1'), [
    ...extra,
    {
      match: /^check the edge containers$/,
      answer: { stdout: 'boxship-edge-ports|running|boxship-proxy:caddy-2.6.2|ports||80,443\nboxship-edge|running|boxship-proxy:caddy-2.6.2|generation|0|\n' },
    },
    { match: /^list the routes of the edge$/, answer: { stdout: `${others}app.example.com root hello\nshop.example.com p-api hello\n` } },
    { match: /^check the proxy container$/, answer: { stdout: 'running boxship-proxy:caddy-2.6.2 caddy-edge-router/1+edge-socket\n' } },
    { match: /^list the containers of hello$/, answer: { stdout: 'hello-1\nhello-2.old-blue\nhello-cache\n' } },
    { match: /^read the release ledger$/, answer: { stdout: ledger } },
    {
      match: /remove the release image hello:t2/,
      answer: { code: 1, stderr: 'conflict: unable to remove repository reference "hello:t2" (container 5c1 is using it)' },
    },
    { match: /remove the release image hello:t3/, answer: { stdout: 'absent\n' } },
  ]);
}

function ctxFor(hosts: DeployContext['hosts'], events: ProgressEvent[] = []): DeployContext {
  return { config, hosts, who: 'test', command: 'boxship remove', report: (e) => events.push(e), lock: { held: false } };
}

describe('remove on a host shared with other services', () => {
  it('unroutes its names first, then removes proxy, accessories, instances, network, release images and state; others stay', async () => {
    const h = host();
    const [r] = await removeEverywhere(ctxFor([h]), false);
    const writes = h.whys().filter((w) => !/^(check|list|read)/.test(w));
    expect(writes).toEqual([
      'take the deploy lock (boxship remove)',
      'refresh the deploy lock',
      'stop routing app.example.com',
      'stop routing shop.example.com /api',
      'remove the router socket of hello from the edge',
      'remove the proxy container',
      'stop and remove accessory cache (up to 20s to shut down)',
      'stop and remove every container of hello (up to 30s to stop)',
      'remove the boxship-hello network',
      'remove the release image hello:t3',
      'remove the release image hello:t2',
      'remove the release image hello:t1',
      'remove the state files of the service (its data folders stay)',
      'append to the audit log',
      'release the deploy lock',
      'remove the state dir of the service',
    ]);
    // The other service's route is never touched.
    expect(h.ran.map((x) => x.line).join('\n')).not.toMatch(/web/);
    expect(r).toEqual({
      host: 'h1',
      containers: ['hello-proxy', 'hello-1', 'hello-2.old-blue', 'hello-cache'],
      routes: ['app.example.com', 'shop.example.com/api'],
      images: ['t1'],
      imagesKept: [{ tag: 't2', why: 'conflict: unable to remove repository reference "hello:t2" (container 5c1 is using it)' }],
      network: 'removed',
      stateDir: 'removed',
      dataRemoved: false,
    });
  });

  it('says when the edge routes nothing any more (it stays), and when data or a new lock keep the state dir', async () => {
    const events: ProgressEvent[] = [];
    const [last] = await removeEverywhere(ctxFor([host('', [{ match: /^remove the state dir/, answer: { stdout: 'kept\n' } }])], events), false);
    expect(last?.edgeIdle).toBe(true);
    expect(last?.stateDir).toBe('data kept');
    const [locked] = await removeEverywhere(ctxFor([host(undefined, [{ match: /^remove the state dir/, answer: { stdout: 'locked\n' } }])], events), true);
    expect(locked?.edgeIdle).toBeUndefined();
    expect(locked?.stateDir).toBe('locked');
    expect(locked?.dataRemoved).toBe(true);
    expect(events.filter((e) => e.kind === 'warning').map((e) => e.message)).toContain(
      'another command took the lock of hello meanwhile: ~/.boxship/hello stays',
    );
  });

  it('without an edge on the host it touches no edge, and a missing proxy is not removed', async () => {
    const h = host(undefined, [
      { match: /^check the edge containers$/, answer: { stdout: '' } },
      { match: /^check the proxy container$/, answer: { stdout: 'missing\n' } },
    ]);
    const [r] = await removeEverywhere(ctxFor([h]), false);
    expect(h.whys()).not.toContain('list the routes of the edge');
    expect(h.whys()).not.toContain('remove the proxy container');
    expect(r?.routes).toEqual([]);
    expect(r?.containers).toEqual(['hello-1', 'hello-2.old-blue', 'hello-cache']);
  });

  it('--plan: only reads run; every removal is recorded as a write', async () => {
    const real = host();
    const dry = new DryRunRunner(real);
    await removeEverywhere({ ...ctxFor([dry]), report: () => {} }, true);
    expect(real.whys().every((w) => /^(check|list|read)/.test(w))).toBe(true);
    const recorded = dry.steps.map((s) => s.cmd);
    expect(recorded.every((c) => c.effect === 'write')).toBe(true);
    expect(recorded.map((c) => c.why)).toContain('remove the state files and the DATA of the service');
    expect(recorded.map((c) => c.why)).toContain('remove the release image hello:t3');
  });
});
