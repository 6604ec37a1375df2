/**
 * Every failure a user can act on is a BoxshipError: a message saying what went wrong (naming the file, host or
 * container), a hint saying what to do, and the exit code the CLI ends with.
 *
 * Messages and hints are redacted when the error is made: an error carries a host's stderr or an app's logs, which
 * may hold a secret value, and it travels far (the terminal, JSON output, the audit log on the hosts).
 */
import { redact } from './redact.js';

export const ExitCode = {
  ok: 0,
  /** The operation failed; nothing was left half-done (a failed rollout was rolled back cleanly). */
  failed: 1,
  /** A person must act first: bad input or config (nothing was touched), or a rollback that failed too. */
  needsAction: 2,
  /** Stopped by a signal (Ctrl-C), as shells report SIGINT: the move in flight finished, the locks were released. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface BoxshipErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
}

export class BoxshipError extends Error {
  readonly hint?: string;
  readonly exitCode: ExitCode;
  constructor(message: string, options: BoxshipErrorOptions = {}) {
    super(redact(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
    this.exitCode = options.exitCode ?? ExitCode.failed;
  }
}

/** Bad input: a config file, a flag, a Dockerfile that breaks a rule. Raised before any host is touched. */
export class InputError extends BoxshipError {
  constructor(message: string, options: Omit<BoxshipErrorOptions, 'exitCode'> = {}) {
    super(message, { ...options, exitCode: ExitCode.needsAction });
  }
}

/** Something on one host failed: the message names the host. */
export class HostError extends BoxshipError {
  readonly host: string;
  constructor(host: string, message: string, options: BoxshipErrorOptions = {}) {
    super(`${host}: ${message}`, options);
    this.host = host;
  }
}

/** The message of any error, redacted: errors from libraries (ssh2, dockerode) are not BoxshipErrors. */
export function errorMessage(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err));
}
