/**
 * Opening an SSH connection: the target (through its jump host, when it has one), authentication (identity file or
 * ssh-agent), the host key checked against known_hosts, and a connect failure turned into a message a user can act
 * on. Separate from ssh.ts, which only runs commands over an open connection and never needs to know how it was made.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import type { HostConfig } from '../config/types.js';
import { type BoxshipError, HostError, errorMessage } from '../util/errors.js';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  keyTypeOfAlgorithm,
  knownHostName,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
} from './known-hosts.js';

export interface ConnectOptions {
  /**
   * Trust and record the key of a host that has no known_hosts entry yet: never a changed key, nor a host that
   * known_hosts already names by a key of another type or by a @cert-authority line.
   */
  acceptNewHostKeys?: boolean;
  readyTimeoutMs?: number;
}

interface Endpoint {
  name: string;
  user: string;
  hostname: string;
  port: number;
}

/** How long a connect may take, and the jump host's forward to the target with it. */
const READY_TIMEOUT_MS = 15_000;

const DEFAULT_HOST_KEY_ORDER: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** An open connection to a host: its client, the jump host's client it goes through, and the key the host proved it holds. */
export interface Connection {
  client: Client;
  jump?: Client;
  hostKey?: Buffer;
}

/** Connects to the host, through its jump host when it has one; a failure leaves nothing open. */
export async function openConnection(config: HostConfig, options: ConnectOptions): Promise<Connection> {
  let jump: Client | undefined;
  try {
    let sock: ConnectConfig['sock'];
    if (config.jump) {
      jump = (await openClient(config.jump, config, options)).client;
      sock = await forward(jump, config, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    }
    const { client, hostKey } = await openClient(config, config, options, sock);
    return { client, jump, hostKey };
  } catch (err) {
    // An open jump connection would keep the process alive after the command has said why it failed.
    jump?.end();
    throw err;
  }
}

function readKey(file: string, host: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HostError(host, `cannot read identity file ${file}: ${errorMessage(err)}`, {
      hint: 'fix identity_file in boxship.yml, or remove it to use ssh-agent',
    });
  }
}

function openClient(target: Endpoint, host: HostConfig, options: ConnectOptions, sock?: ConnectConfig['sock']): Promise<{ client: Client; hostKey?: Buffer }> {
  const known = existsSync(host.knownHosts) ? parseKnownHosts(readFileSync(host.knownHosts, 'utf8')) : [];
  const knownTypes = knownKeyTypes(known, target.hostname, target.port);
  // Ask first for the key types known_hosts can vouch for, as OpenSSH does.
  const serverHostKey = hostKeyAlgorithms(DEFAULT_HOST_KEY_ORDER, knownTypes);
  let refusal: BoxshipError | undefined;
  const label = target.name;
  const knownName = knownHostName(target.hostname, target.port);
  let offered: Buffer | undefined;

  const hostVerifier = (blob: Buffer): boolean => {
    offered = blob;
    const verdict = checkHostKey(known, target.hostname, target.port, blob);
    const fp = fingerprint(blob);
    switch (verdict.status) {
      case 'match':
        return true;
      case 'revoked':
        refusal = new HostError(label, `host key ${fp} is marked @revoked in ${host.knownHosts}:${verdict.line}`, {
          hint: 'the server must get a new host key',
        });
        return false;
      case 'changed':
        refusal = new HostError(
          label,
          `HOST KEY CHANGED: the server offers ${fp} but ${host.knownHosts}:${verdict.line} has ${verdict.knownFingerprint}. This can mean someone is intercepting the connection.`,
          {
            hint: `if the server was rebuilt and you have checked the new fingerprint, run: ssh-keygen -R '${knownName}' -f ${host.knownHosts} and run again with --accept-new-host-keys`,
          },
        );
        return false;
      case 'other-type': {
        // Not a new host, so --accept-new-host-keys does not apply: we asked for the known type first and the server
        // answered with another one, which is what an impostor without the real key would do too.
        const cannot = serverHostKey.some((alg) => keyTypeOfAlgorithm(alg) === verdict.knownType)
          ? ''
          : ` (boxship's SSH library cannot use ${verdict.knownType} host keys)`;
        refusal = new HostError(
          label,
          `the server offers a ${keyTypeOf(blob)} host key (${fp}), but ${host.knownHosts}:${verdict.line} has a key of another type for ${knownName}, ${verdict.knownType} ${verdict.knownFingerprint}, which the server did not present${cannot}. ${options.acceptNewHostKeys ? 'The host is already known, so --accept-new-host-keys does not apply.' : 'This can mean someone is intercepting the connection.'}`,
          {
            hint: `check the new fingerprint with the server's owner (ssh-keygen -lf /etc/ssh/ssh_host_${shortKeyName(keyTypeOf(blob))}_key.pub on it); if the server really changed its keys, run: ssh-keygen -R '${knownName}' -f ${host.knownHosts} and run again with --accept-new-host-keys`,
          },
        );
        return false;
      }
      case 'cert-authority':
        // ssh2 neither asks for nor parses *-cert-v01@openssh.com host keys, so a CA can never vouch for a host here.
        // Recording the plain key instead would quietly replace the trust the user chose: refused even when accepting.
        refusal = new HostError(
          label,
          `${host.knownHosts}:${verdict.line} trusts a @cert-authority for ${knownName}, but boxship cannot verify host certificates (its SSH library, ssh2, does not support them) and no plain key is known for the host`,
          {
            hint: `add the host's own key to ${host.knownHosts}: check its fingerprint with the server's owner, then run: ssh-keyscan -t ${shortKeyName(keyTypeOf(blob))} -p ${target.port} ${target.hostname.toLowerCase()} >> ${host.knownHosts}`,
          },
        );
        return false;
      case 'unknown':
        if (options.acceptNewHostKeys) {
          mkdirSync(dirname(host.knownHosts), { recursive: true });
          // A file whose last line lacks its newline would otherwise get our entry glued onto that line.
          const text = existsSync(host.knownHosts) ? readFileSync(host.knownHosts, 'utf8') : '';
          appendFileSync(host.knownHosts, `${(text && !text.endsWith('\n') ? '\n' : '') + knownHostsLine(target.hostname, target.port, blob)}\n`);
          return true;
        }
        refusal = new HostError(label, `unknown host key ${fp}: ${knownName} has no entry in ${host.knownHosts}`, {
          hint: `check the fingerprint with the server's owner (ssh-keygen -lf /etc/ssh/ssh_host_${shortKeyName(keyTypeOf(blob))}_key.pub on it), then run again with --accept-new-host-keys`,
        });
        return false;
    }
  };

  const config: ConnectConfig = {
    host: target.hostname,
    port: target.port,
    username: target.user,
    readyTimeout: options.readyTimeoutMs ?? READY_TIMEOUT_MS,
    keepaliveInterval: 10_000,
    hostVerifier,
    sock,
    algorithms: { serverHostKey },
    ...connectAuth(host, process.env.SSH_AUTH_SOCK, label),
  };
  return new Promise((resolve, reject) => {
    const client = new Client();
    // The key the verifier last saw is the one the server proved it holds: 'ready' follows only a passed check.
    client.once('ready', () => resolve({ client, hostKey: offered }));
    client.once('error', (err: Error & { level?: string; code?: string }) => {
      client.end();
      if (refusal) return reject(refusal);
      reject(describeConnectError(label, err, host));
    });
    try {
      client.connect(config);
    } catch (err) {
      reject(new HostError(label, errorMessage(err), { hint: 'check identity_file (an encrypted key needs ssh-agent)' }));
    }
  });
}

/**
 * How a connection authenticates: the identity file when there is one, else the ssh-agent at `agentSocket`. Never
 * `agentForward` here: on the connection it would lend the agent to every channel, so root on any host could use the
 * deployer's keys for as long as boxship is connected. A relay hop asks for it on its own channel (ssh.ts exec).
 */
export function connectAuth(
  host: HostConfig,
  agentSocket: string | undefined,
  label = host.name,
): Pick<ConnectConfig, 'privateKey' | 'agent' | 'agentForward'> {
  if (host.identityFile) return { privateKey: readKey(host.identityFile, label) };
  if (agentSocket) return { agent: agentSocket };
  throw new HostError(label, 'no identity_file is configured and no ssh-agent is running (SSH_AUTH_SOCK is unset)', {
    hint: 'set identity_file for this host in boxship.yml, or start ssh-agent and ssh-add your key',
  });
}

/** The part of /etc/ssh/ssh_host_<name>_key.pub that sshd uses for a key type. */
function shortKeyName(keyType: string): string {
  if (keyType === 'ssh-rsa') return 'rsa';
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  return keyType.replace(/^ssh-/, '');
}

export function describeConnectError(label: string, err: Error & { level?: string; code?: string }, host: HostConfig): HostError {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new HostError(label, 'connection refused', { hint: 'is sshd running on that host and is the port right?', cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new HostError(label, `host name not found`, { hint: 'check the address in boxship.yml', cause: err });
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || /Timed out/i.test(err.message))
    return new HostError(label, `no answer (${err.message})`, { hint: 'is the host up and reachable from here (firewall, VPN)?', cause: err });
  if (err.level === 'client-authentication') {
    return new HostError(label, `authentication failed for user ${host.user}`, {
      hint: host.identityFile
        ? `is the public key of ${host.identityFile} in ~${host.user}/.ssh/authorized_keys on the host?`
        : 'add your key to ssh-agent (ssh-add) and to authorized_keys on the host',
      cause: err,
    });
  }
  return new HostError(label, err.message, { cause: err });
}

/**
 * The jump host's channel to the target. Limited like a connect: a jump host whose packets to the target are dropped
 * answers only when its TCP connect gives up (minutes), so the channel would otherwise keep the command waiting.
 */
function forward(jump: Client, target: HostConfig, timeoutMs: number): Promise<ClientChannel> {
  const cannot = (why: string) => new HostError(target.name, `jump host ${target.jump?.name} cannot reach ${target.hostname}:${target.port}: ${why}`);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(cannot(`no answer within ${Math.round(timeoutMs / 1000)}s`));
    }, timeoutMs);
    jump.forwardOut('127.0.0.1', 0, target.hostname, target.port, (err, stream) => {
      clearTimeout(timer);
      if (settled) return stream?.destroy();
      settled = true;
      if (err) reject(cannot(err.message));
      else resolve(stream);
    });
  });
}
