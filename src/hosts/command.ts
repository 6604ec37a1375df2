/**
 * A remote action is data before it is execution: an argv array plus a sentence saying why it runs. Builders in
 * the commands.ts files return these; an executor runs them over SSH; `--plan` prints them. The argv is quoted for the
 * remote POSIX shell only at the moment it is sent.
 */
/**
 * Whether a command changes the host. Required on every command, so that a forgotten one fails to compile rather
 * than making `--plan` take a different branch: a dry run runs reads (inspect, list, cat) to follow the same path a
 * real run takes, and only records writes.
 */
export type Effect = 'read' | 'write';

export interface Command {
  argv: string[];
  /** One line for plans and logs: what this does, not how. */
  why: string;
  effect: Effect;
  /** How long it may take before the runner gives up on it (default: the runner's, a minute over SSH). */
  timeoutMs?: number;
}

export function command(effect: Effect, why: string, ...argv: string[]): Command {
  return { argv, why, effect };
}

/** A shell script with positional arguments, for the few steps that need a pipe or redirection. */
export function script(effect: Effect, why: string, body: string, ...args: string[]): Command {
  return { argv: ['sh', '-c', body, 'sh', ...args], why, effect };
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word for a POSIX shell. */
export function quote(word: string): string {
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command line that sshd's shell will run. */
export function toShell(cmd: Command | string[]): string {
  const argv = Array.isArray(cmd) ? cmd : cmd.argv;
  return argv.map(quote).join(' ');
}

/** Several commands in one round trip, each run only if the one before succeeded; --plan still shows each. */
export function sequence(why: string, commands: Command[]): Command {
  if (commands.length === 1) return commands[0]!;
  const effect: Effect = commands.every((c) => c.effect === 'read') ? 'read' : 'write';
  return { argv: ['sh', '-c', commands.map((c) => toShell(c)).join(' && ')], why, effect };
}
