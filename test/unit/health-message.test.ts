/**
 * The health-check failure reads as a sentence in every case, also when the host said nothing: the rollout's warning
 * shows only its first line, followed by "; rolling back …". Other joined messages keep no dangling ":".
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { runRollout } from '../../src/rollout/run.js';
import { healthFailureMessage } from '../../src/rollout/swap.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { headline, withDetail } from '../../src/util/sentence.js';
import { containerLine, hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-health-msg-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'hosts: [root@h1]', 'app: { port: 3000 }', 'healthcheck: { path: /ready, interval: 1s, retries: 3 }'].join('\n'),
  join(dir, 'boxship.yml'),
);
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

/** A host serving OLD in its one slot whose new instance's check fails with this answer. */
async function warningsWhenCheckAnswers(answer: { code: number; stderr: string }): Promise<{ warnings: string[]; error: string }> {
  const events: ProgressEvent[] = [];
  const h = new ScriptedRunner(hostConfig('h1'), [
    { match: /^list the hello instances$/, answer: { stdout: containerLine('hello', 'hello-1', OLD, 1, 'blue') } },
    { match: /^wait until hello-1\.next passes/, answer },
  ]);
  const ctx: DeployContext = { config, hosts: [h], who: 't@here', command: 'boxship rollout', report: (e) => events.push(e) };
  const outcome = await runRollout(ctx, { target: NEW, kind: 'rollout' });
  if (outcome.kind !== 'rolled-back') throw new Error(`expected a rollback, got ${outcome.kind}`);
  return { warnings: events.flatMap((e) => (e.kind === 'warning' ? [e.message] : [])), error: outcome.error.message };
}

describe('the health-check failure', () => {
  it('says what was checked, for how long, and that nothing answered, when the check printed nothing', async () => {
    const { warnings, error } = await warningsWhenCheckAnswers({ code: 255, stderr: '' });
    expect(warnings[0]).toBe(
      'h1: hello-1 on bbbbbbbbbbbb failed its health check (/ready on port 3000, up to 3s): no answer within 3s (the check ended with exit 255); rolling back 0 changed instance(s)',
    );
    expect(error).not.toMatch(/:\s*(;|$)/m);
  });

  it("keeps the check's own reason on the warning line, and the app's lines after it", async () => {
    const { warnings, error } = await warningsWhenCheckAnswers({
      code: 4,
      stderr:
        'http://hello-1-green:3000/ready did not answer 2xx within 3s (last answer: ERROR 503: Service Unavailable.)\nlast lines of hello-1.next:\n  booting\n',
    });
    expect(warnings[0]).toBe(
      'h1: hello-1 on bbbbbbbbbbbb failed its health check (/ready on port 3000, up to 3s): http://hello-1-green:3000/ready did not answer 2xx within 3s (last answer: ERROR 503: Service Unavailable.); rolling back 0 changed instance(s)',
    );
    expect(error.split('\n').slice(1)).toEqual(['last lines of hello-1.next:', '  booting']);
  });

  it('names a signal when the check was cut off', () => {
    expect(healthFailureMessage('h1', 'hello-1', 'abc', { path: '/health', port: 8000, seconds: 20, detail: ' \n', ended: 'signal TERM' })).toBe(
      'h1: hello-1 on abc failed its health check (/health on port 8000, up to 20s): no answer within 20s (the check ended with signal TERM)',
    );
  });
});

describe('joining a message with a detail that may be empty', () => {
  it('leaves no dangling ":" when the detail is blank', () => {
    expect(withDetail('git status failed in /app', '')).toBe('git status failed in /app');
    expect(withDetail('git status failed in /app', ' \n')).toBe('git status failed in /app');
    expect(withDetail('zstd exited 1', '', 'no output')).toBe('zstd exited 1: no output');
    expect(withDetail('Swarm is rolling back', undefined)).toBe('Swarm is rolling back');
    expect(withDetail('zstd exited 1', ' bad magic\n')).toBe('zstd exited 1: bad magic');
  });

  it('takes a first line that more can follow', () => {
    expect(headline('h1: start hello-1.next failed: `docker run …` exit 125:\ndocker: no space left')).toBe(
      'h1: start hello-1.next failed: `docker run …` exit 125',
    );
    expect(headline('\nfirst\nsecond')).toBe('first');
  });
});
