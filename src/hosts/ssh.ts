/**
 * One SSH connection to one host (ssh2), with host-key checking against known_hosts and an optional jump host.
 * No policy lives here: callers decide what to run; this runs it and says precisely what went wrong.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig, type ExecOptions as ExecChannelOptions, type ServerHostKeyAlgorithm } from 'ssh2';
import type { HostConfig } from '../config/types.js';
import { type BoxshipError, HostError, errorMessage } from '../util/errors.js';
import { type Command, toShell } from './command.js';
import { DEFAULT_TIMEOUT_MS, type ExecOptions, type ExecResult, type Runner, type StreamIo, type StreamResult } from './runner.js';
import { debug } from '../util/debug.js';
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

export type { ExecOptions, ExecResult } from './runner.js';

interface Endpoint {
  name: string;
  user: string;
  hostname: string;
  port: number;
}

const DEFAULT_HOST_KEY_ORDER: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

export class SshHost implements Runner {
  readonly dryRun = false;
  private closed = false;
  private constructor(
    readonly config: HostConfig,
    private readonly client: Client,
    private readonly jump?: Client,
  ) {
    client.on('close', () => (this.closed = true));
  }

  get name(): string {
    return this.config.name;
  }

  static async connect(config: HostConfig, options: ConnectOptions = {}): Promise<SshHost> {
    let jumpClient: Client | undefined;
    let sock: ConnectConfig['sock'];
    if (config.jump) {
      jumpClient = await openClient(config.jump, config, options);
      sock = await forward(jumpClient, config);
    }
    try {
      const client = await openClient(config, config, options, sock);
      return new SshHost(config, client, jumpClient);
    } catch (err) {
      jumpClient?.end();
      throw err;
    }
  }

  /** Run a command; throws a HostError carrying stderr when it exits non-zero (unless allowFailure). */
  async exec(cmd: Command, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new HostError(this.name, `connection closed before: ${cmd.why}`);
    const started = Date.now();
    // Listeners go on inside the exec callback, synchronously: for a fast command ssh2 can parse the open
    // confirmation, the output, the exit status and the close from one TCP chunk, and an 'exit' listener attached a
    // tick later would miss the exit status.
    const result = await new Promise<ExecResult>((resolve, reject) => {
      const onChannel = (err: Error | undefined, channel: ClientChannel) => {
        if (err) return reject(new HostError(this.name, `cannot start "${cmd.why}": ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let exit: { code: number | null; signal?: string } | undefined;
        const onConnClose = () => {
          clearTimeout(timer);
          reject(new HostError(this.name, `connection lost during: ${cmd.why}`, { hint: 'check the network and the host, then run the command again' }));
        };
        this.client.once('close', onConnClose);
        // A command that hangs (a stuck dockerd) would hold the deploy lock forever: give up, naming host and command.
        const limitMs = options.timeoutMs ?? cmd.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        const timer = setTimeout(
          () => {
            if (limitMs <= 0) return;
            this.client.removeListener('close', onConnClose);
            channel.signal('KILL');
            channel.close();
            reject(
              new HostError(this.name, `${cmd.why}: no answer within ${Math.round(limitMs / 1000)}s, gave up`, {
                hint: 'check the host (is dockerd stuck? `systemctl status docker`, `docker info` on it), then run the command again',
              }),
            );
          },
          limitMs > 0 ? limitMs : 2 ** 31 - 1,
        );
        // ssh2 only emits 'close' once both readable sides are consumed: always read stdout and stderr.
        channel.on('data', (chunk: Buffer) => {
          out.push(chunk);
          options.onStdout?.(chunk);
        });
        channel.stderr.on('data', (chunk: Buffer) => errOut.push(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = { code: typeof code === 'number' ? code : null, signal: signal ?? undefined };
        });
        channel.on('close', () => {
          clearTimeout(timer);
          this.client.removeListener('close', onConnClose);
          resolve({ code: exit?.code ?? null, signal: exit?.signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() });
        });
        feedStdin(channel, options.stdin);
      };
      // A relay hop may use the deployer's agent, forwarded for this one command.
      if (options.agentForward && this.usesAgent) this.client.exec(toShell(cmd), { agentForward: true } as unknown as ExecChannelOptions, onChannel);
      else this.client.exec(toShell(cmd), onChannel);
    });
    debug(`${this.name} ${cmd.why}: exit ${result.code} in ${Date.now() - started} ms`);
    if (result.code !== 0 && !options.allowFailure) {
      const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-8).join('\n');
      const how = result.code !== null ? `exited ${result.code}` : result.signal ? `was killed (${result.signal})` : 'ended without an exit status (cut off)';
      throw new HostError(this.name, `${cmd.why} failed: \`${toShell(cmd).slice(0, 200)}\` ${how}${detail ? `:\n${detail}` : ''}`);
    }
    return result;
  }

  /** Runs a command with stdout and stderr streamed live, stdin forwarded and, for `-t`, a terminal. */
  stream(cmd: Command, io: StreamIo): Promise<StreamResult> {
    const client = this.client;
    return new Promise((resolve, reject) => {
      const onConnClose = () => reject(new HostError(this.name, `connection lost during: ${cmd.why}`, { hint: 'check the network and the host' }));
      const ready = (err: Error | undefined, channel: ClientChannel) => {
        if (err) return reject(new HostError(this.name, `cannot start "${cmd.why}": ${err.message}`));
        client.once('close', onConnClose);
        let exit: StreamResult = { code: null };
        // Listeners go on synchronously here, as in exec(): a fast command's exit status may come in the first chunk.
        channel.on('data', (chunk: Buffer) => io.stdout.write(chunk));
        channel.stderr.on('data', (chunk: Buffer) => io.stderr.write(chunk));
        channel.on('exit', (code: number | null, signal?: string) => (exit = { code: typeof code === 'number' ? code : null, signal: signal ?? undefined }));
        channel.on('close', () => {
          client.removeListener('close', onConnClose);
          io.stdin?.unpipe(channel);
          resolve(exit);
        });
        io.onChannel?.(channel);
        if (io.stdin) io.stdin.pipe(channel);
        else channel.end();
      };
      if (io.pty) client.exec(toShell(cmd), { pty: io.pty }, ready);
      else client.exec(toShell(cmd), ready);
    });
  }

  /** stdout of a command that must succeed. */
  async run(cmd: Command, stdin?: ExecOptions['stdin']): Promise<string> {
    return (await this.exec(cmd, { stdin })).stdout;
  }

  private homeDir?: Promise<string>;

  /** The login user's home: absolute paths are needed for bind mounts and env files. */
  home(): Promise<string> {
    this.homeDir ??= this.run({ argv: ['sh', '-c', 'printf %s "$HOME"'], why: 'find the home directory', effect: 'read' });
    return this.homeDir;
  }

  note(): void {}

  /** The host key this host proved it holds when we connected (checked against known_hosts). */
  hostKey(): Buffer | undefined {
    return hostKeys.get(this.client);
  }

  /** Whether this connection authenticates with an ssh-agent (which a relay hop can then use, forwarded). */
  get usesAgent(): boolean {
    return !this.config.identityFile && Boolean(process.env.SSH_AUTH_SOCK);
  }

  close(): void {
    this.client.end();
    this.jump?.end();
  }
}

/** The host key each connection's server proved it holds (checked against known_hosts). */
const hostKeys = new WeakMap<Client, Buffer>();

function readKey(file: string, host: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HostError(host, `cannot read identity file ${file}: ${errorMessage(err)}`, {
      hint: 'fix identity_file in boxship.yml, or remove it to use ssh-agent',
    });
  }
}

function openClient(target: Endpoint, host: HostConfig, options: ConnectOptions, sock?: ConnectConfig['sock']): Promise<Client> {
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
    readyTimeout: options.readyTimeoutMs ?? 15_000,
    keepaliveInterval: 10_000,
    hostVerifier,
    sock,
    algorithms: { serverHostKey },
  };
  if (host.identityFile) config.privateKey = readKey(host.identityFile, label);
  else if (process.env.SSH_AUTH_SOCK) {
    config.agent = process.env.SSH_AUTH_SOCK;
    config.agentForward = true;
  } else
    throw new HostError(label, 'no identity_file is configured and no ssh-agent is running (SSH_AUTH_SOCK is unset)', {
      hint: 'set identity_file for this host in boxship.yml, or start ssh-agent and ssh-add your key',
    });

  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => {
      if (offered) hostKeys.set(client, offered);
      resolve(client);
    });
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

/** The part of /etc/ssh/ssh_host_<name>_key.pub that sshd uses for a key type. */
function shortKeyName(keyType: string): string {
  if (keyType === 'ssh-rsa') return 'rsa';
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  return keyType.replace(/^ssh-/, '');
}

function describeConnectError(label: string, err: Error & { level?: string; code?: string }, host: HostConfig): HostError {
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

function forward(jump: Client, target: HostConfig): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, target.hostname, target.port, (err, stream) => {
      if (err) reject(new HostError(target.name, `jump host ${target.jump?.name} cannot reach ${target.hostname}:${target.port}: ${err.message}`));
      else resolve(stream);
    });
  });
}

function feedStdin(channel: ClientChannel, stdin: ExecOptions['stdin']): void {
  if (stdin === undefined) channel.end();
  else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
  else {
    stdin.on('error', () => channel.close());
    stdin.pipe(channel);
  }
}
