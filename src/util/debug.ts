/**
 * BOXSHIP_DEBUG=1 traces every remote command with its duration on stderr: the one exception to "only the CLI
 * prints", because a trace is for the person debugging, not part of any command's output. Redacted like all output.
 */
import { redact } from './redact.js';

const debugEnabled = Boolean(process.env.BOXSHIP_DEBUG);

export function debug(line: string): void {
  if (debugEnabled) process.stderr.write(`[debug ${new Date().toISOString().slice(11, 23)}] ${redact(line)}\n`);
}
