/**
 * SSH specifics against the simulated hosts: reaching a host through a jump host (bastion), what boxship says
 * when authentication fails, and host keys checked against known_hosts as OpenSSH checks them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { utils } from 'ssh2';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS, knownName, TEST_KEY, TEST_KNOWN_HOSTS, testHostConfig } from '../helpers/paths.js';
import { SshHost } from '../../src/hosts/ssh.js';
import { boxship, jsonOutput, onHostSync } from '../helpers/run.js';

describe('ssh', () => {
  let app: ExampleApp;
  beforeAll(() => {
    app = makeExampleApp();
  });

  it('reaches a host only reachable through a jump host', async () => {
    // Host b seen from host a, on the test network: its container name, port 22, which this machine cannot dial
    // directly by that name. Its key is the one known for it on 127.0.0.1.
    const keyOfB = readFileSync(TEST_KNOWN_HOSTS, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${knownName(HOSTS[1])} `))!
      .split(' ')
      .slice(1)
      .join(' ');
    const known = join(app.dir, '..', `known_hosts_jump_${Date.now()}`);
    writeFileSync(known, `${readFileSync(TEST_KNOWN_HOSTS, 'utf8')}${HOSTS[1].container} ${keyOfB}\n`);
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

  it('gives up on a jump host that cannot reach the target within the connect timeout, naming both, and exits', async () => {
    // A blackholed target: the jump host drops what it sends there, so its forward would wait for TCP to give up.
    const target = '192.0.2.1';
    const drop = `OUTPUT -d ${target} -j DROP`;
    onHostSync(HOSTS[0].container, `iptables -I ${drop}`);
    try {
      app.writeConfig({ hosts: [`root@${target}`], extraYaml: '' });
      const file = join(app.dir, 'boxship.yml');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^ssh:\n/m, `ssh:\n  jump: ${HOSTS[0].address}\n`));
      const t0 = Date.now();
      const r = await Promise.race([
        boxship(['releases'], { cwd: app.dir }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('boxship did not exit within 45 s')), 45_000)),
      ]);
      expect(Date.now() - t0).toBeLessThan(40_000);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(`jump host ${HOSTS[0].address} cannot reach ${target}:22`);
    } finally {
      onHostSync(HOSTS[0].container, `iptables -D ${drop}`);
    }
  }, 60_000);

  it('names the user and the key when authentication fails', async () => {
    app.writeConfig({ hosts: [`nobody@127.0.0.1:${HOSTS[0].sshPort}`] });
    const r = await boxship(['releases'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`nobody@127.0.0.1:${HOSTS[0].sshPort}: authentication failed for user nobody`);
  });
});

describe("the deployer's ssh-agent", () => {
  it('is not forwarded to a host by an ordinary command, only by a channel that asks for it (a relay hop)', async () => {
    const out = execFileSync('ssh-agent', ['-s'], { encoding: 'utf8' });
    const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(out)![1]!;
    const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(out)![1]);
    const saved = process.env.SSH_AUTH_SOCK;
    let ssh: SshHost | undefined;
    try {
      execFileSync('ssh-add', [TEST_KEY], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      process.env.SSH_AUTH_SOCK = sock;
      ssh = await SshHost.connect(testHostConfig(HOSTS[0], 'agent'));
      const probe = { argv: ['sh', '-c', 'echo "[$SSH_AUTH_SOCK]"; ls /tmp/ssh-* 2>/dev/null | wc -l'], why: 'look for an agent', effect: 'read' as const };
      // Root on the host sees no agent socket of ours while an ordinary command runs.
      expect((await ssh.run(probe)).split('\n')[0]).toBe('[]');
      expect((await ssh.exec(probe, { timeoutMs: 10_000 })).stdout.split('\n').slice(0, 2)).toEqual(['[]', '0']);
      // A relay hop asks for it on its own channel, and gets a working agent there.
      const relay = await ssh.exec(
        { argv: ['sh', '-c', 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l'], why: 'relay hop', effect: 'read' },
        { agentForward: true, allowFailure: true },
      );
      expect(relay.stdout).toMatch(/^\[\/.+\]$/m);
      expect(relay.stdout).toMatch(/ED25519/);
    } finally {
      ssh?.close();
      process.env.SSH_AUTH_SOCK = saved;
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      process.kill(pid);
    }
  });
});

describe('a command whose output the caller consumes as it streams (logs -f)', () => {
  it('keeps only a small tail of it however much passes through', async () => {
    const ssh = await SshHost.connect(testHostConfig(HOSTS[0]));
    try {
      // 200k log-like lines, about 12 MB: an hour of a busy service's logs, at once.
      let seen = 0;
      let lastLine = '';
      const r = await ssh.exec(
        {
          argv: ['sh', '-c', 'seq 1 200000 | sed "s/^/2026-12-03T10:00:00.000000000Z a log line number /"; echo failing >&2; exit 3'],
          why: 'stream',
          effect: 'read',
        },
        {
          allowFailure: true,
          timeoutMs: 0,
          onStdout: (c) => {
            seen += c.length;
            lastLine = c.toString().trimEnd().split('\n').pop() ?? lastLine;
          },
        },
      );
      expect(seen).toBeGreaterThan(10_000_000);
      expect(lastLine).toMatch(/number 200000$/);
      expect(r.code).toBe(3);
      // What stays is enough for an error message, not the stream.
      expect(r.stdout.length).toBeLessThanOrEqual(64 * 1024);
      expect(r.stdout).toMatch(/number 200000\n$/);
      expect(r.stderr).toBe('failing\n');
    } finally {
      ssh.close();
    }
  });
});

describe('host keys, as OpenSSH checks them', () => {
  let app: ExampleApp;
  const host = () => HOSTS[0];
  /** The host's own public key of one type, as "type base64" (the test's view from inside the container). */
  const hostKey = (type: 'rsa' | 'ecdsa' | 'ed25519') => {
    const [ktype, kdata] = onHostSync(host().container, `cat /etc/ssh/ssh_host_${type}_key.pub`).trim().split(/\s+/);
    return `${ktype} ${kdata}`;
  };
  const knownHostsFile = (name: string, text: string) => {
    const file = join(app.dir, '..', `known_hosts_${name}_${Date.now()}`);
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    app = makeExampleApp();
  });

  it('recognises a host known only by its ssh-rsa key against OpenSSH >= 8.8 (rsa-sha2-* signatures)', async () => {
    // The server refuses SHA-1 ssh-rsa signatures and also has ed25519 and ecdsa keys: only asking for rsa-sha2-512 or
    // rsa-sha2-256 first gets the key known_hosts can vouch for.
    expect(onHostSync(host().container, 'sshd -T | grep -i "^hostkeyalgorithms"')).not.toMatch(/[ ,]ssh-rsa(,|$)/m);
    const text = `${knownName(host())} ${hostKey('rsa')}\n`;
    const known = knownHostsFile('rsa', text);
    app.writeConfig({ hosts: [host().address], knownHosts: known });
    const r = await boxship(['releases', '--json'], { cwd: app.dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(jsonOutput<{ host: string }[]>(r).map((h) => h.host)).toEqual([host().address]);
    expect(readFileSync(known, 'utf8')).toBe(text);
  });

  it('refuses --accept-new-host-keys for a host already known by a key of another type, and leaves known_hosts alone', async () => {
    // A key type the server does not have (it never offers it), so it presents its ed25519 key: the host is not new.
    const madeUp = utils.generateKeyPairSync('ecdsa', { bits: 384 }).public.trim().split(/\s+/).slice(0, 2).join(' ');
    const text = `# the old key\n${knownName(host())} ${madeUp}\n`;
    const known = knownHostsFile('other_type', text);
    app.writeConfig({ hosts: [host().address], knownHosts: known });
    const r = await boxship(['releases', '--json', '--accept-new-host-keys'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(jsonOutput<{ error?: string }[]>(r)[0]!.error).toMatch(/ecdsa-sha2-nistp384/);
    expect(readFileSync(known, 'utf8')).toBe(text);

    // A command that stops on the first unreachable host prints the hint too: the file:line and what to do.
    const lock = await boxship(['lock', 'release', '--accept-new-host-keys'], { cwd: app.dir });
    expect(lock.code).toBe(1);
    expect(lock.stderr).toContain(`${known}:2 has a key of another type`);
    expect(lock.stderr).toContain('--accept-new-host-keys does not apply');
    expect(lock.stderr).toContain(
      `hint: check the new fingerprint with the server's owner (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it); if the server really changed its keys, run: ssh-keygen -R '${knownName(host())}' -f ${known}`,
    );
    expect(readFileSync(known, 'utf8')).toBe(text);
  });

  it('names the @cert-authority line when that is all known_hosts has for the host, even with --accept-new-host-keys', async () => {
    const ca = utils.generateKeyPairSync('ed25519').public.trim().split(/\s+/).slice(0, 2).join(' ');
    const text = `@cert-authority [127.0.0.1]:* ${ca}\n`;
    const known = knownHostsFile('ca', text);
    app.writeConfig({ hosts: [host().address], knownHosts: known });
    const r = await boxship(['lock', 'release', '--accept-new-host-keys'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${known}:1 trusts a @cert-authority for ${knownName(host())}, but boxship cannot verify host certificates`);
    expect(r.stderr).toContain(`hint: add the host's own key to ${known}`);
    expect(r.stderr).not.toContain('unknown host key');
    expect(readFileSync(known, 'utf8')).toBe(text);
  });

  it('matches a mixed-case host name in the config against lower-case entries, hashed ones too', async () => {
    const address = `root@LocalHost:${host().sshPort}`;
    const plain = knownHostsFile('case', `[localhost]:${host().sshPort} ${hostKey('ed25519')}\n`);
    app.writeConfig({ hosts: [address], knownHosts: plain });
    const r = await boxship(['releases', '--json'], { cwd: app.dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);

    // OpenSSH hashes the lower-cased name: ssh-keygen -H writes what ssh itself would.
    const hashed = knownHostsFile('case_hashed', `[localhost]:${host().sshPort} ${hostKey('ed25519')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    const text = readFileSync(hashed, 'utf8');
    expect(text).toMatch(/^\|1\|/);
    app.writeConfig({ hosts: [address], knownHosts: hashed });
    const h = await boxship(['releases', '--json'], { cwd: app.dir });
    expect(h.code, h.stdout + h.stderr).toBe(0);
    expect(jsonOutput<{ host: string }[]>(h).map((x) => x.host)).toEqual([address]);
    expect(readFileSync(hashed, 'utf8')).toBe(text);
  });

  it('records a new host under its lower-cased name on its own line, and knows it on the next run', async () => {
    const address = `root@LocalHost:${host().sshPort}`;
    const known = knownHostsFile('new', '# fleet keys, no newline at the end');
    app.writeConfig({ hosts: [address], knownHosts: known });
    const r = await boxship(['releases', '--json', '--accept-new-host-keys'], { cwd: app.dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(known, 'utf8')).toBe(`# fleet keys, no newline at the end\n[localhost]:${host().sshPort} ${hostKey('ed25519')}\n`);
    const again = await boxship(['releases', '--json'], { cwd: app.dir });
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});

describe('an upload the host stops taking', () => {
  it('fails after the stall limit, naming host and command, and the remote side sees its input end', async () => {
    const ssh = await SshHost.connect(testHostConfig(HOSTS[0]));
    const marker = `/tmp/stall-${Date.now()}`;
    try {
      // The host takes nothing for 4 s (a disk that stopped), then reads on; this side has data ready all the time.
      const endless = Readable.from(
        (function* () {
          for (;;) yield Buffer.alloc(64 * 1024);
        })(),
      );
      const t0 = Date.now();
      const cmd = { argv: ['sh', '-c', `sleep 4; cat > /dev/null; echo ended > ${marker}`], why: 'receive the upload', effect: 'write' as const };
      await expect(ssh.exec(cmd, { stdin: endless, timeoutMs: 0, stallMs: 2000 })).rejects.toThrow(
        /: receive the upload: the host took no data for 2s \(the transfer stalled\), gave up/,
      );
      expect(Date.now() - t0).toBeLessThan(4000);
      endless.destroy();
      // The channel is gone: when the remote command reads again its input has ended (a receive then fails and
      // cleans up) instead of waiting for bytes for ever.
      for (let i = 0; ; i++) {
        if (onHostSync(HOSTS[0].container, `cat ${marker} 2>/dev/null || true`).trim() === 'ended') break;
        if (i > 40) throw new Error('the remote command never saw its input end');
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      onHostSync(HOSTS[0].container, `rm -f ${marker}`);
      ssh.close();
    }
  });
});
