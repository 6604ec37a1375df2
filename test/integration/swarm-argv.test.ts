/**
 * backend: swarm, seen from another user on the manager: while setup and two rollouts (the service's create, then a
 * rolling update) run, `nobody` lists every process's command line in a loop and must never see an env value,
 * secret or not; and a volume still reaches the tasks through the quoted --mount. Its own swarm of the two swarm
 * hosts, taken apart after (run it alone, as swarm.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { SWARM_HOSTS } from '../helpers/paths.js';
import { boxship, onHost, type RunResult } from '../helpers/run.js';
import { makeSwarm, runningTasks, takeSwarmApart } from '../helpers/swarm.js';

const [manager, worker] = SWARM_HOSTS;
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const LOG = '/tmp/boxship-ps-as-nobody.log';
const STOP = '/tmp/boxship-ps-as-nobody.stop';

describe('backend: swarm keeps env values out of every command line on the manager', () => {
  let app: ExampleApp;
  const secret = `tok-${randomBytes(8).toString('hex')}`;
  const plain = `plain-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    await makeSwarm();
    app = makeExampleApp();
    writeFileSync(join(app.dir, '.env.secrets'), `API_TOKEN=${secret}\n`);
    writeFileSync(join(app.dir, '.gitignore'), '.env.secrets\n', { flag: 'a' });
    app.writeConfig({
      hosts: [manager.address, worker.address],
      appYaml: ['  secrets_file: .env.secrets', `  env: { GREETING: ${plain} }`, '  volumes: { data: /app/data }'],
      extraYaml: `backend: swarm\nswarm:\n  manager: ${manager.address}\n  replicas: 2`,
    });
    app.commit('swarm with a secret and a volume');
  });

  afterAll(async () => {
    await onHost(manager.container, `touch ${STOP}; sleep 1; rm -f ${LOG} ${STOP}`).catch(() => undefined);
    await takeSwarmApart();
  });

  it('nobody sees no env value in any process during setup, the create and the rolling update; the volume is mounted', async () => {
    // One su, then a tight loop as nobody: a docker CLI call lasts a few hundred milliseconds, many samples long.
    await onHost(manager.container, `rm -f ${STOP}; : > ${LOG}; (su nobody -s /bin/sh -c 'while [ ! -e ${STOP} ]; do ps -eo args; done' >> ${LOG} 2>&1 &)`);
    ok(await boxship(['setup'], { cwd: app.dir }));
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    const v2 = app.bumpVersion('argv2');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    await onHost(manager.container, `touch ${STOP}; sleep 1`);
    const seen = await onHost(manager.container, `cat ${LOG}`);

    // The sampler watched at least one of the docker calls that carry the env (else its silence would prove nothing).
    // Not both: on a loaded machine a sample can miss the short create (seen once in CI); the exact argv of each is
    // pinned by test/unit/swarm.test.ts, and the old code leaked the secret into both.
    expect(/docker service (create|update)/.test(seen), 'the sampler saw no docker service create or update').toBe(true);
    expect(seen.split('\n').filter((l) => l.includes(secret) || l.includes(plain))).toEqual([]);

    // The values did reach the service, and the tasks run the update.
    const env = await onHost(manager.container, "docker service inspect --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}' hello");
    expect(env).toContain(`API_TOKEN=${secret}`);
    expect(env).toContain(`GREETING=${plain}`);
    expect((await runningTasks(manager, 'hello')).map((t) => t.image)).toEqual([`hello:${v2}`, `hello:${v2}`]);

    // The quoted --mount still binds the volume's folder: a file written on the host is read inside a task.
    await onHost(manager.container, `echo from-host > /root/.boxship/hello/volumes/data/marker`);
    const task = (await onHost(manager.container, 'docker ps -q --filter label=com.docker.swarm.service.name=hello')).split('\n')[0]!.trim();
    expect(await onHost(manager.container, `docker exec ${task} cat /app/data/marker`)).toBe('from-host\n');
  });
});
