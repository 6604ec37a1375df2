/**
 * `hosts:` and `ssh:` -> HostConfig[]: per-host settings over the ssh defaults over the OpenSSH client config
 * (ssh.ts), and the check the schema cannot make: two entries that the ssh config resolves to one server.
 */
import { DEFAULT_SSH_PORT, DEFAULT_USER, writtenParts } from '../address.js';
import type { Problem } from '../problems.js';
import type { RawConfig, RawHost } from '../schema.js';
import type { HostConfig } from '../types.js';
import { type At, PATH_HINT, requireFile, resolvePath, validAddress } from './common.js';
import { identityFromSshConfig, jumpAddress, jumpFromSshConfig, readSshConfig, resolveAlias, type SshProblem } from './ssh.js';

/** Converts the hosts; problems in boxship.yml go to `at`, problems at a line of the ssh config to `push`. */
export function toHosts(raw: RawConfig, dir: string, at: At, push: (problem: Problem) => void): HostConfig[] {
  const identityHint = `check the path (${PATH_HINT}), or remove identity_file to use the keys in ssh-agent`;
  const sshIdentity = raw.ssh.identity_file === undefined ? undefined : requireFile(at, dir, ['ssh', 'identity_file'], raw.ssh.identity_file, identityHint);

  // The OpenSSH client config: ssh.config_file, else ~/.ssh/config when it exists; "none" reads none.
  const ssh = readSshConfig(raw.ssh.config_file, dir, at);
  const reported = new Set<string>();
  const sshAt: SshProblem = (line, message, hint) => {
    // A jump host shared by several hosts would report the same line once per host.
    if (reported.has(`${line}\0${message}`)) return;
    reported.add(`${line}\0${message}`);
    push({ file: ssh!.file, line, column: 1, path: '', message, hint });
  };

  // The schema has checked each server is listed once as written.
  const hosts = raw.hosts.map((entry, i): HostConfig => {
    const host: Partial<Exclude<RawHost, string>> & { address: string } = typeof entry === 'string' ? { address: entry } : entry;
    const written = validAddress(host.address);
    const given = writtenParts(host.address);
    const alias = ssh ? resolveAlias(ssh, written.hostname, sshAt) : {};
    const user = given.user ? written.user : (alias.user ?? DEFAULT_USER);
    const port = given.port ? written.port : (alias.port ?? DEFAULT_SSH_PORT);
    const hostname = alias.hostname ?? written.hostname;
    let identityFile = host.identity_file !== undefined ? requireFile(at, dir, ['hosts', i, 'identity_file'], host.identity_file, identityHint) : sshIdentity;
    if (identityFile === undefined && ssh && alias.identityFiles && alias.identityFiles.length > 0) {
      identityFile = identityFromSshConfig(alias.identityFiles, { host: hostname, user, port }, written.hostname, sshAt);
    }
    const knownHosts = resolvePath(host.known_hosts ?? raw.ssh.known_hosts, dir);
    const jumpText = host.jump ?? raw.ssh.jump;
    let jump: HostConfig['jump'];
    if (jumpText !== undefined) {
      jump = { ...jumpAddress(jumpText, ssh, sshAt), name: jumpText };
    } else if (alias.proxyJump !== undefined && ssh) {
      jump = jumpFromSshConfig(ssh, alias.proxyJump, written.hostname, sshAt);
    }
    const instances = host.instances ?? raw.instances;
    const relay = host.relay_address !== undefined ? validAddress(host.relay_address) : undefined;
    return {
      name: host.address,
      user,
      hostname,
      port,
      ...(identityFile !== undefined ? { identityFile } : {}),
      knownHosts,
      ...(jump !== undefined ? { jump } : {}),
      instances,
      ...(host.private_address !== undefined ? { privateAddress: host.private_address } : {}),
      ...(relay
        ? {
            relayAddress: {
              user: writtenParts(host.relay_address!).user ? relay.user : user,
              hostname: relay.hostname,
              port: writtenParts(host.relay_address!).port ? relay.port : port,
            },
          }
        : {}),
    };
  });
  // Two aliases (or an alias and an address) for one server would make two hosts of one.
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    const server = `${h.hostname.toLowerCase()}:${h.port}`;
    const first = seen.get(server);
    if (first === undefined) return void seen.set(server, i);
    const w = (x: HostConfig) => {
      const a = validAddress(x.name);
      return `${a.hostname.toLowerCase()}:${a.port}`;
    };
    // The schema already reported entries that are the same as written.
    if (w(hosts[first]!) !== w(h)) {
      at(
        ['hosts', i],
        `duplicate host: ${JSON.stringify(h.name)} is the same server (${h.hostname}:${h.port}, through ${ssh?.file ?? 'the ssh config'}) as hosts[${first}] ${JSON.stringify(hosts[first]!.name)}`,
        'list each server once',
      );
    }
  });
  return hosts;
}
