/**
 * SSH specifics against the simulated hosts: reaching a host through a jump host (bastion), and what boxship says
 * when authentication fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS, knownName, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput } from '../helpers/run.js';

describe('ssh', () => {
  let app: ExampleApp;
  beforeAll(() => {
    app = makeExampleApp();
  });

  it('reaches a host only reachable through a jump host', async () => {
    // Host b seen from host a, on the test network: its container name, port 22, which this machine cannot dial
    // directly by that name. Its key is the one known for it on 127.0.0.1.
    const keyOfB = readFileSync(TEST_KNOWN_HOSTS, 'utf8').split('\n').find((l) => l.startsWith(`${knownName(HOSTS[1])} `))!.split(' ').slice(1).join(' ');
    const known = join(app.dir, '..', `known_hosts_jump_${Date.now()}`);
    writeFileSync(known, readFileSync(TEST_KNOWN_HOSTS, 'utf8') + `${HOSTS[1].container} ${keyOfB}\n`);
    app.writeConfig({ hosts: [`root@${HOSTS[1].container}`], knownHosts: known, extraYaml: `` });
    const file = join(app.dir, 'boxship.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ssh:\n/m, `ssh:\n  jump: ${HOSTS[0].address}\n`));
    const r = await boxship(['releases', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOutput<{ host: string }[]>(r).map((h) => h.host)).toEqual([`root@${HOSTS[1].container}`]);

    // Without the jump host the name does not even resolve from here: the jump is what made it work.
    app.writeConfig({ hosts: [`root@${HOSTS[1].container}`], knownHosts: known });
    const direct = await boxship(['releases'], { cwd: app.dir });
    expect(direct.code).toBe(1);
    expect(direct.stdout + direct.stderr).toMatch(new RegExp(`root@${HOSTS[1].container}: (host name not found|no answer)`));
  });

  it('names the user and the key when authentication fails', async () => {
    app.writeConfig({ hosts: [`nobody@127.0.0.1:${HOSTS[0].sshPort}`] });
    const r = await boxship(['releases'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`nobody@127.0.0.1:${HOSTS[0].sshPort}: authentication failed for user nobody`);
  });
});
