/**
 * The one seam every remote action goes through. The orchestration (rollout, rollback, setup, locks) talks to a
 * Runner, never to an ssh2 session, so that:
 * - the ssh2 runner (SshHost) runs commands on a real host;
 * - a scripted runner (test/helpers/scripted-runner.ts) answers per command and injects faults, so every fault path
 *   of the orchestration has a fast unit test;
 * - the dry-run runner below runs reads and records writes, so `--plan` is the real orchestration and cannot drift
 *   from what a real run does.
 */
import type { Readable, Writable } from 'node:stream';
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';
import type { HostConfig } from '../config/types.js';
import { type Command, toShell } from './command.js';

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Data for the remote command's stdin; the channel is closed (EOF) when it ends. */
  stdin?: Readable | string | Buffer;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /** Called with each chunk of stdout as it arrives (long-running commands). */
  onStdout?: (chunk: Buffer) => void;
  /**
   * Give up after this long (the remote command is signalled) and fail naming host and command. Default
   * DEFAULT_TIMEOUT_MS: a hung dockerd must not hold the deploy lock forever. 0 means no limit (transfers, which
   * report progress instead).
   */
  timeoutMs?: number;
  /**
   * With a streamed stdin: give up (the remote command is signalled, the channel closed) when the host takes none of
   * it and prints nothing for this long (hosts/stall.ts), even with no overall time limit.
   */
  stallMs?: number;
  /** Forward the deployer's ssh-agent to this command (a relay hop), when the connection uses one. */
  agentForward?: boolean;
}

/** Ordinary remote commands (docker run, inspect, rename, a file write) finish in seconds; a minute is a hang. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Where a streamed command's output goes, and what it reads (exec -it, logs -f). */
export interface StreamIo {
  stdout: Writable;
  stderr: Writable;
  /** Forwarded to the command; absent: the command's stdin is closed at once. */
  stdin?: Readable;
  /** Allocate a remote terminal of this size (stdout and stderr then arrive merged, as on any terminal). */
  pty?: PseudoTtyOptions;
  /** Called with the channel, e.g. to forward window size changes. */
  onChannel?(channel: ClientChannel): void;
}

export interface StreamResult {
  code: number | null;
  signal?: string;
}

export interface Runner {
  /** The host as named in boxship.yml: every message about it uses this. */
  readonly name: string;
  readonly config: HostConfig;
  /** Run a command; throws a HostError naming host and command when it exits non-zero (unless allowFailure). */
  exec(cmd: Command, options?: ExecOptions): Promise<ExecResult>;
  /** stdout of a command that must succeed. */
  run(cmd: Command, stdin?: ExecOptions['stdin']): Promise<string>;
  /** The login user's home folder (absolute paths are needed for bind mounts and env files). */
  home(): Promise<string>;
  /** Runs a command with its output streamed live (only runners with a real session: SSH). */
  stream?(cmd: Command, io: StreamIo): Promise<StreamResult>;
  /**
   * True when writes are only recorded (a plan): callers skip work that has no remote command (a local docker save)
   * and say so with note(). The one way to ask "is this a dry run?".
   */
  readonly dryRun: boolean;
  /** Records, in a plan, work a real run does from this machine rather than by a remote command; a no-op otherwise. */
  note(why: string): void;
  /** The host key this host proved it holds when we connected (a relay hop pins it); undefined when not connected over SSH. */
  hostKey(): Buffer | undefined;
}

/** One command a dry run did not run, with what it would have been fed on stdin. */
export interface RecordedStep {
  cmd: Command;
  /** Bytes of stdin it would have got (a file's content is not printed: it may hold secrets). */
  stdinBytes?: number;
}

/**
 * Runs reads (commands whose effect is 'read': inspect, list, cat) on the real host and records everything else,
 * answering it with success and no output. The orchestration takes the same branches as a real run would on a
 * host where every write succeeds, so the recorded list is the plan.
 */
export class DryRunRunner implements Runner {
  readonly dryRun = true;
  readonly steps: RecordedStep[] = [];
  constructor(private readonly real: Runner) {}

  get name(): string {
    return this.real.name;
  }
  get config(): HostConfig {
    return this.real.config;
  }
  home(): Promise<string> {
    return this.real.home();
  }
  hostKey(): Buffer | undefined {
    return this.real.hostKey();
  }

  async exec(cmd: Command, options: ExecOptions = {}): Promise<ExecResult> {
    if (cmd.effect === 'read') return this.real.exec(cmd, options);
    const stdin = options.stdin;
    const stdinBytes = typeof stdin === 'string' ? Buffer.byteLength(stdin) : Buffer.isBuffer(stdin) ? stdin.length : undefined;
    this.steps.push({ cmd, ...(stdinBytes !== undefined ? { stdinBytes } : {}) });
    return { code: 0, stdout: '', stderr: '' };
  }

  async run(cmd: Command, stdin?: ExecOptions['stdin']): Promise<string> {
    return (await this.exec(cmd, { stdin })).stdout;
  }

  note(why: string): void {
    this.steps.push({ cmd: { argv: [], why, effect: 'write' } });
  }

  /** The recorded steps as plan text: the why as a comment, the exact command line below it. */
  describe(indent = '   '): string[] {
    return this.steps.flatMap((s) => [
      // One comment line whatever the text (a why never spans lines in a pasted plan).
      `${indent}# ${s.cmd.why.replace(/[\r\n]+/g, ' ')}${s.stdinBytes !== undefined ? ` (${s.stdinBytes} bytes on stdin, not shown)` : ''}`,
      ...(s.cmd.argv.length ? [`${indent}${toShell(s.cmd)}`] : []),
    ]);
  }
}
