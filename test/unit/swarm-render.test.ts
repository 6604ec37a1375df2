/** The texts of the Swarm backend's results: where each goes (stdout or stderr) and what it says. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DeployResult } from '../../src/backend/types.js';
import {
  renderReleaseTargets,
  renderSwarmDeploy,
  renderSwarmMaintenance,
  renderSwarmSetup,
  renderSwarmStatus,
  swarmStatusText,
} from '../../src/cli/render/swarm.js';
import type { SwarmOutcome } from '../../src/swarm/rollout.js';

function streams() {
  const text = { out: '', err: '' };
  const out = new PassThrough().on('data', (c) => (text.out += String(c)));
  const err = new PassThrough().on('data', (c) => (text.err += String(c)));
  return { out, err, text };
}

const T = 'c'.repeat(40);
const deploy = (outcome: SwarmOutcome, canary?: number): Extract<DeployResult, { backend: 'swarm' }> => ({
  backend: 'swarm',
  service: 'hello',
  kind: 'rollout',
  outcome,
  replicas: 4,
  exitCode: 0,
  ...(canary !== undefined ? { canary } : {}),
});

describe('rendering swarm results', () => {
  it('a finished update goes to stdout with its gate and the undo command', () => {
    const s = streams();
    renderSwarmDeploy(deploy({ kind: 'done', target: T, action: 'updated', gate: { kind: 'running' }, seconds: 12.34 }), s.out, s.err);
    expect(s.text.out).toBe(
      `\nhello:${T.slice(0, 12)} serves on all 4 task(s) (rolling update in 12.3s, gated on only "running": the image has no HEALTHCHECK and no curl, wget, node or python3 to probe healthcheck.path with).\nTo undo, run: boxship rollback\n`,
    );
    expect(s.text.err).toBe('');
  });

  it('a canary says how to promote and abort', () => {
    const s = streams();
    renderSwarmDeploy(deploy({ kind: 'done', target: T, action: 'canary', seconds: 1 }, 1), s.out, s.err);
    expect(s.text.out).toContain(`Canary: 1 task(s) of hello:${T.slice(0, 12)} run beside the 4 of the service`);
    expect(s.text.out).toContain(`To promote, run: boxship rollout --sha ${T.slice(0, 12)}`);
  });

  it('failures go to stderr: rolled back by Swarm, or neither completed nor rolled back', () => {
    const a = streams();
    renderSwarmDeploy(deploy({ kind: 'rolled-back', target: T, error: 'task hello.2 failed', created: false, canary: false }), a.out, a.err);
    expect(a.text.err).toContain('\nerror: task hello.2 failed\n');
    expect(a.text.err).toContain('Rolled back: Swarm put the previous release back on every task');
    const b = streams();
    renderSwarmDeploy(deploy({ kind: 'rollback-failed', target: T, error: 'update paused' }), b.out, b.err);
    expect(b.text.err).toContain('The update neither completed nor rolled back cleanly.');
    expect(b.text.err).toContain('docker service ps hello');
    expect(a.text.out + b.text.out).toBe('');
  });

  it('skipped nodes, failed catch-ups, setup and maintenance', () => {
    const s = streams();
    renderReleaseTargets(
      {
        hosts: [],
        skipped: [{ host: 'root@w2', node: 'w2 (worker)', why: 'no task of hello can run there' }],
        caughtUp: [
          { host: 'root@w1', tag: T, ok: true },
          { host: 'root@w2', tag: T, ok: false, error: 'w2 lacks it' },
        ],
        exitCode: 1,
      },
      s.err,
    );
    renderSwarmSetup({ backend: 'swarm', hosts: 3, caughtUp: [{ host: 'root@w1', tag: T, ok: true }], exitCode: 0 }, s.out, s.err);
    renderSwarmMaintenance({ backend: 'swarm', mode: { kind: 'maintenance', retryAfterSeconds: 60, message: '' }, hosts: 3, exitCode: 0 }, s.out);
    expect(s.text.err).toBe(
      `root@w2 (node w2 (worker)) gets no release: no task of hello can run there\n\nerror: w2 lacks it\nhint: release it again from a checkout of that commit (git checkout ${T.slice(0, 12)} && boxship release), then come back\n`,
    );
    expect(s.text.out).toContain('3 nodes are ready (overlay network, proxy on each).');
    expect(s.text.out).toContain('Maintenance is on on every node: every request gets 503 with Retry-After: 60.');
  });

  it('status: the service, the canary, and each node with its tasks', () => {
    const status: Parameters<typeof swarmStatusText>[0] = {
      backend: 'swarm',
      manager: 'root@m1',
      service: { name: 'hello', image: `hello:${T}`, replicas: 2, running: 2, update: null, healthcheck: null },
      canary: null,
      current: T,
      lock: null,
      nodes: [{ host: 'root@m1', node: 'm1', role: 'manager', availability: 'active', state: 'ready', proxy: 'running', mode: 'serving', tasks: [] }],
      unreachable: [{ host: 'root@w9', error: 'timed out' }],
    };
    const text = swarmStatusText(status);
    const s = streams();
    renderSwarmStatus(status, s.out);
    expect(s.text.out).toBe(text);
    expect(text).toContain(`service:  hello hello:${T.slice(0, 12)}, 2 of 2 task(s) running   manager: root@m1`);
    expect(text).toContain('  tasks:    none');
    expect(text).toContain('root@w9\n  unreachable: timed out');
  });
});
