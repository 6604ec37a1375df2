import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { handOver, instanceSpec, missingImage, runInstance, startDrain, waitHealthy } from '../../src/rollout/instance-commands.js';
import { moveSteps } from '../../src/rollout/swap.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-unit-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  [
    'service: hello',
    'hosts: [root@10.0.0.5]',
    'app:',
    '  port: 3000',
    '  volumes: { db: /app/db }',
    '  drain_seconds: 2',
    '  stop_timeout_seconds: 10',
    '  stop_signal: SIGINT',
    'healthcheck: { path: /health, interval: 1s, retries: 3 }',
  ].join('\n'),
  join(dir, 'boxship.yml'),
);

describe('instance commands', () => {
  it('starts an instance on the service network under its colour alias, labelled (its spec too), with its stop signal, no published port', () => {
    const c = runInstance(config, {
      host: 'root@10.0.0.5',
      slot: 1,
      tag: 'abc',
      colour: 'green',
      name: 'hello-1.next',
      stateDirAbs: '/root/.boxship/hello',
      sha: 'abc',
      restart: 'no',
    });
    expect(c.argv).toEqual([
      'docker',
      'run',
      '-d',
      '--pull',
      'never',
      '--name',
      'hello-1.next',
      '--network',
      'boxship-hello',
      '--network-alias',
      'hello-1-green',
      '--label',
      'dev.boxship.service=hello',
      '--label',
      'dev.boxship.tag=abc',
      '--label',
      'dev.boxship.slot=1',
      '--label',
      'dev.boxship.colour=green',
      '--label',
      `dev.boxship.spec=${instanceSpec(config)}`,
      '--restart',
      'no',
      '--stop-timeout',
      '10',
      '--stop-signal',
      'SIGINT',
      '--env-file',
      '/root/.boxship/hello/app.env',
      '-e',
      'BOXSHIP_SHA=abc',
      '-e',
      'BOXSHIP_INSTANCE=hello-1',
      '-v',
      '/root/.boxship/hello/volumes/db:/app/db',
      'hello:abc',
    ]);
    expect(c.argv).not.toContain('-p');
  });

  it('names host and image when the start failed for lack of the image, and nothing else', () => {
    const e = missingImage('root@10.0.0.5', 'hello:abc', 'docker: Error response from daemon: No such image: hello:abc.');
    expect(e?.message).toBe('root@10.0.0.5: image hello:abc is not on the host (boxship never pulls: docker run --pull never)');
    expect(e?.hint).toMatch(/boxship release/);
    expect(missingImage('h', 'hello:abc', 'Conflict. The container name "/hello-1" is already in use')).toBeUndefined();
  });

  it('checks health through the proxy container for retries x interval of wall time, each probe bounded by the timeout', () => {
    const c = waitHealthy(config, 'hello-1.next', 'hello-1-green');
    // name, proxy, url, poll step (s), probe timeout (s), budget (ms)
    expect(c.argv.slice(4)).toEqual(['hello-1.next', 'hello-proxy', 'http://hello-1-green:3000/health', '0.25', '2', '3000']);
    expect(c.why).toBe('wait until hello-1.next passes /health (up to 3s)');
    // The runner gives up only after the budget, one probe and the log gathering.
    expect(c.timeoutMs).toBe(3000 + 2000 + 30_000);
  });

  it('drains in the background on the host, detached from the SSH session', () => {
    expect(startDrain('hello-1.old-blue', 12, '.boxship/hello/draining').argv).toEqual([
      'sh',
      '-c',
      'mkdir -p "$3" && echo $(( $(date +%s) + $2 )) > "$3/$1" && nohup sh -c \'docker stop -t "$2" "$1" >/dev/null 2>&1; docker rm -f "$1" >/dev/null 2>&1; rm -f "$3/$1"\' sh "$1" "$2" "$3" >/dev/null 2>&1 </dev/null &',
      'sh',
      'hello-1.old-blue',
      '12',
      '.boxship/hello/draining',
    ]);
  });

  it('hands a slot over in one round trip: the old instance steps aside and stops restarting, the new one takes name and policy', () => {
    expect(handOver('hello-1', 'hello-1.next', 'hello-1.old-blue').argv.slice(2)).toEqual([
      'docker update --restart no "$1" >/dev/null && docker rename "$1" "$3" && docker rename "$2" "$1" && docker update --restart unless-stopped "$1" >/dev/null',
      'sh',
      'hello-1',
      'hello-1.next',
      'hello-1.old-blue',
    ]);
  });
});

describe('moveSteps', () => {
  it('replaces a live instance: start next to it (no restart policy), hand over after the check, drain the old one', () => {
    const s = moveSteps(config, { host: 'h', slot: 2, from: 'old', fromColour: 'blue', to: 'new', colour: 'green' }, '/s');
    expect(s.prepare.map((c) => c.argv.at(-1))).toEqual(['hello-2.next']);
    expect(s.start?.argv.slice(0, 7)).toEqual(['docker', 'run', '-d', '--pull', 'never', '--name', 'hello-2.next']);
    expect(s.start?.argv).toContain('no');
    expect(s.handover?.argv.slice(-3)).toEqual(['hello-2', 'hello-2.next', 'hello-2.old-blue']);
    expect(s.drain?.container).toBe('hello-2.old-blue');
    expect(s.drain?.command.argv.slice(-2)).toEqual(['12', '.boxship/hello/draining']);
    expect(s.discard?.argv.at(-1)).toBe('hello-2.next');
  });

  it('removes only the leftovers the host has when it knows them', () => {
    const move = { host: 'h', slot: 1, from: null, fromColour: null, to: 'new', colour: 'blue' as const };
    expect(moveSteps(config, move, '/s', new Set(['hello-2'])).prepare).toEqual([]);
    expect(moveSteps(config, move, '/s', new Set(['hello-1'])).prepare.map((c) => c.argv.at(-1))).toEqual(['hello-1']);
    expect(moveSteps(config, move, '/s').prepare.map((c) => c.argv.at(-1))).toEqual(['hello-1.next', 'hello-1']);
  });

  it('fills an empty slot directly under the live name, restarting unless stopped', () => {
    const s = moveSteps(config, { host: 'h', slot: 1, from: null, fromColour: null, to: 'new', colour: 'blue' }, '/s');
    expect(s.start?.argv[6]).toBe('hello-1');
    expect(s.start?.argv).toContain('unless-stopped');
    expect(s.handover).toBeUndefined();
    expect(s.drain).toBeUndefined();
  });

  it('empties a slot when moving back to nothing: the instance steps aside and drains', () => {
    const s = moveSteps(config, { host: 'h', slot: 3, from: 'new', fromColour: 'blue', to: '', colour: 'green' }, '/s');
    expect(s.start).toBeUndefined();
    expect(s.drain?.container).toBe('hello-3.old-blue');
  });
});
