/**
 * A per-service lock on each host for commands that change what serves (rollout, rollback, maintenance).
 * `mkdir` is atomic on every filesystem, so taking the lock is one command with no race between check and take.
 */
import { type Command, script } from '../hosts/command.js';
import { readFileCommand } from './jsonl.js';

export interface LockInfo {
  who: string;
  command: string;
  time: string;
}

export function lockDir(stateDir: string): string {
  return `${stateDir}/lock`;
}

/** Exit 0 and take the lock, or exit 75 and print the holder's info. */
export function acquireLock(stateDir: string, info: LockInfo): Command {
  return script(
    `take the deploy lock (${info.command})`,
    'mkdir -p "$1" && if mkdir "$2" 2>/dev/null; then printf "%s\\n" "$3" > "$2/info.json"; else cat "$2/info.json" 2>/dev/null || echo "{}"; exit 75; fi',
    stateDir,
    lockDir(stateDir),
    JSON.stringify(info),
  );
}

export const LOCK_HELD_EXIT = 75;

export function releaseLock(stateDir: string): Command {
  return script('release the deploy lock', 'rm -rf "$1"', lockDir(stateDir));
}

export function readLock(stateDir: string): Command {
  return readFileCommand('read the deploy lock', `${lockDir(stateDir)}/info.json`);
}

export function parseLockInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    return v && typeof v.who === 'string' ? (v as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}
