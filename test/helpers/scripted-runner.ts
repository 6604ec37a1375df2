/**
 * A Runner for unit tests of the orchestration: each command is answered by the first rule whose matcher fits it
 * (by its `why` or its command line), faults are injected per rule (exit codes, thrown errors such as a timeout or a
 * lost connection), and everything that ran is recorded. It stands in for a host only to exercise boxship's logic;
 * the integration suites prove the same paths on real hosts.
 */
import { Readable } from 'node:stream';
import type { HostConfig } from '../../src/config/types.js';
import { type Command, toShell } from '../../src/hosts/command.js';
import type { ExecOptions, ExecResult, Runner } from '../../src/hosts/runner.js';
import { HostError } from '../../src/util/errors.js';

interface Answer {
  code?: number;
  stdout?: string;
  stderr?: string;
  /** Throw this instead of answering (a timeout, a lost connection). */
  error?: Error;
}

export interface Rule {
  /** Matched against `why` and the shell command line. */
  match: RegExp;
  /** `stdin`: what the command was fed, when the runner reads a streamed stdin (readStdin). */
  answer: Answer | ((cmd: Command, line: string, stdin?: Buffer) => Answer);
  /** Answer only this many times, then let later rules match. */
  times?: number;
}

export function hostConfig(name: string, instances = 2): HostConfig {
  return { name, user: 'root', hostname: name, port: 22, knownHosts: '/dev/null', instances };
}

export class ScriptedRunner implements Runner {
  readonly dryRun = false;
  readonly ran: { why: string; line: string; stdin?: string; agentForward?: boolean; stallMs?: number }[] = [];
  private readonly rules: (Rule & { used: number })[] = [];
  constructor(
    readonly config: HostConfig,
    rules: Rule[] = [],
  ) {
    this.on(...rules);
  }

  get name(): string {
    return this.config.name;
  }

  /** Rules added later take precedence: a test overrides the defaults it cares about. */
  on(...rules: Rule[]): this {
    this.rules.unshift(...rules.map((r) => ({ ...r, used: 0 })));
    return this;
  }

  home(): Promise<string> {
    return Promise.resolve('/root');
  }

  note(): void {}

  private key: Buffer | undefined;
  private reads = false;

  /** Reads a streamed stdin to its end before answering (as a host would), and hands it to the answer. */
  readStdin(): this {
    this.reads = true;
    return this;
  }

  /** Gives the host a checked host key (none by default), which relay chains need: a head reaches a member under it. */
  withHostKey(key: Buffer): this {
    this.key = key;
    return this;
  }

  hostKey(): Buffer | undefined {
    return this.key;
  }

  async exec(cmd: Command, options: ExecOptions = {}): Promise<ExecResult> {
    const line = toShell(cmd);
    this.ran.push({
      why: cmd.why,
      line,
      ...(typeof options.stdin === 'string' ? { stdin: options.stdin } : {}),
      ...(options.agentForward ? { agentForward: true } : {}),
      ...(options.stallMs ? { stallMs: options.stallMs } : {}),
    });
    const rule = this.rules.find((r) => (r.times === undefined || r.used < r.times) && (r.match.test(cmd.why) || r.match.test(line)));
    if (rule) rule.used++;
    let fed: Buffer | undefined;
    if (this.reads && options.stdin instanceof Readable) {
      const chunks: Buffer[] = [];
      for await (const c of options.stdin) chunks.push(Buffer.from(c as Buffer));
      fed = Buffer.concat(chunks);
    }
    const a = rule ? (typeof rule.answer === 'function' ? rule.answer(cmd, line, fed) : rule.answer) : {};
    if (a.error) throw a.error;
    const result = { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
    if (result.code !== 0 && !options.allowFailure)
      throw new HostError(this.name, `${cmd.why} failed: exited ${result.code}${result.stderr ? `:\n${result.stderr}` : ''}`);
    return result;
  }

  async run(cmd: Command, stdin?: ExecOptions['stdin']): Promise<string> {
    return (await this.exec(cmd, { stdin })).stdout;
  }

  /** The `why` of every command that ran, in order. */
  whys(): string[] {
    return this.ran.map((r) => r.why);
  }
}

/** One line of `docker inspect` as listInstances prints it. */
export function containerLine(service: string, name: string, tag: string, slot: number, colour: 'blue' | 'green', running = true): string {
  return JSON.stringify({
    name: `/${name}`,
    labels: { 'dev.boxship.service': service, 'dev.boxship.tag': tag, 'dev.boxship.slot': String(slot), 'dev.boxship.colour': colour },
    running,
  });
}
