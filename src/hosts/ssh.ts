/**
 * One SSH connection to one host (ssh2) as a Runner: commands run over it, with their output collected (exec) or
 * streamed live (stream), time limits and precise failures. How the connection is opened (jump host, authentication,
 * host-key checking) lives in ssh-connect.ts. No policy lives here: callers decide what to run; this runs it.
 */
import { Readable } from 'node:stream';
import type { Client, ClientChannel, ExecOptions as ExecChannelOptions } from 'ssh2';
import type { HostConfig } from '../config/types.js';
import { debug } from '../util/debug.js';
import { HostError } from '../util/errors.js';
import { type Command, toShell } from './command.js';
import { DEFAULT_TIMEOUT_MS, type ExecOptions, type ExecResult, type Runner, type StreamIo, type StreamResult } from './runner.js';
import { type ConnectOptions, openConnection } from './ssh-connect.js';
import { type StallWatch, watchStall } from './stall.js';

export type { ConnectOptions } from './ssh-connect.js';
export type { ExecOptions, ExecResult } from './runner.js';

export class SshHost implements Runner {
  readonly dryRun = false;
  private closed = false;
  private constructor(
    readonly config: HostConfig,
    private readonly client: Client,
    private readonly jump?: Client,
    private readonly provenKey?: Buffer,
  ) {
    client.on('close', () => (this.closed = true));
  }

  get name(): string {
    return this.config.name;
  }

  static async connect(config: HostConfig, options: ConnectOptions = {}): Promise<SshHost> {
    const { client, jump, hostKey } = await openConnection(config, options);
    return new SshHost(config, client, jump, hostKey);
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
        // A caller that consumes stdout as it streams (logs -f) needs only its end, for an error message: keeping
        // it all would grow for as long as the command runs.
        const out = options.onStdout ? tail(STREAMED_TAIL_BYTES) : all();
        const errOut = options.onStdout ? tail(STREAMED_TAIL_BYTES) : all();
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
        let stall: StallWatch | undefined;
        // ssh2 only emits 'close' once both readable sides are consumed: always read stdout and stderr.
        channel.on('data', (chunk: Buffer) => {
          stall?.activity();
          out.push(chunk);
          options.onStdout?.(chunk);
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          stall?.activity();
          errOut.push(chunk);
        });
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = { code: typeof code === 'number' ? code : null, signal: signal ?? undefined };
        });
        channel.on('close', () => {
          clearTimeout(timer);
          stall?.stop();
          this.client.removeListener('close', onConnClose);
          resolve({ code: exit?.code ?? null, signal: exit?.signal, stdout: out.text(), stderr: errOut.text() });
        });
        feedStdin(channel, options.stdin);
        // An upload with no time limit still must not hang on a host that stopped taking it (stall.ts says when).
        stall =
          options.stallMs && options.stdin instanceof Readable
            ? watchStall(options.stdin, options.stallMs, () => {
                clearTimeout(timer);
                this.client.removeListener('close', onConnClose);
                channel.signal('KILL');
                channel.close();
                reject(
                  new HostError(this.name, `${cmd.why}: the host took no data for ${Math.round(options.stallMs! / 1000)}s (the transfer stalled), gave up`, {
                    hint: 'check the host (its disk, load and network: `df -h`, `uptime`), then run the command again',
                  }),
                );
              })
            : undefined;
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
    return this.provenKey;
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

/** How much of a streamed command's stdout (and stderr) is kept, for the error message when it fails. */
const STREAMED_TAIL_BYTES = 64 * 1024;

interface Collected {
  push(chunk: Buffer): void;
  text(): string;
}

function all(): Collected {
  const chunks: Buffer[] = [];
  return { push: (c) => chunks.push(c), text: () => Buffer.concat(chunks).toString() };
}

/** The last `max` bytes pushed (a cut first character is dropped by the decoder as invalid, which is fine here). */
function tail(max: number): Collected {
  let chunks: Buffer[] = [];
  let size = 0;
  return {
    push(c) {
      chunks.push(c);
      size += c.length;
      while (size - chunks[0]!.length >= max) size -= chunks.shift()!.length;
      if (size > 2 * max) {
        const joined = Buffer.concat(chunks).subarray(-max);
        chunks = [Buffer.from(joined)];
        size = joined.length;
      }
    },
    text: () => Buffer.concat(chunks).subarray(-max).toString(),
  };
}

function feedStdin(channel: ClientChannel, stdin: ExecOptions['stdin']): void {
  if (stdin === undefined) channel.end();
  else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
  else {
    stdin.on('error', () => channel.close());
    stdin.pipe(channel);
  }
}
