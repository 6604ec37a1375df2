/**
 * A per-service lock on each host for commands that change what serves (rollout, rollback, maintenance).
 * `mkdir` is atomic on every filesystem, so taking the lock is one command with no race between check and take.
 * The holder is known (who, which command, which machine and pid) and alive: it touches the lock every
 * HEARTBEAT_SECONDS. A lock whose holder is gone (its pid no longer runs in this machine's pid namespace) or silent
 * for the stale window (staleAfterSeconds) (measured by the host's own clock, so skew between machines does not matter) was left by an
 * interrupted run: the next command takes it over and converges what that run left. A holder knows its lock by a
 * random token: its heartbeat and its release act only while the lock is still the one it wrote, so a holder that
 * stalled past the window (a laptop asleep, Ctrl-Z) and was taken over learns it, and never removes the new lock.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Command, script } from '../hosts/command.js';
import { readFileCommand } from './jsonl.js';

export interface LockInfo {
  who: string;
  command: string;
  time: string;
  /** Deployer machine and process holding the lock (absent in locks written by older boxship versions). */
  machine?: string;
  pid?: number;
  /**
   * The kernel boot and pid namespace of that process: containers (CI runners) share a fixed host name but not
   * their pids, so "its pid is gone" means something only in the same namespace.
   */
  pidns?: string;
  /** Random per acquisition: tells this holder's lock from a later holder's. */
  token?: string;
}

export const HEARTBEAT_SECONDS = 10;
/** 45 s; BOXSHIP_LOCK_STALE_SECONDS shortens it for tests of a stalled holder. */
const staleAfterSeconds = (): number => Number(process.env.BOXSHIP_LOCK_STALE_SECONDS) || 45;
export const LOCK_HELD_EXIT = 75;
/** Exit status of the heartbeat when the lock is no longer ours; it prints the lock's info then. */
export const LOCK_LOST_EXIT = 76;

function lockDir(stateDir: string): string {
  return `${stateDir}/lock`;
}

export function lockInfoHere(who: string, command: string): LockInfo {
  const pidns = pidNamespace();
  return {
    who,
    command,
    time: new Date().toISOString(),
    machine: hostname(),
    pid: process.pid,
    ...(pidns ? { pidns } : {}),
    token: randomBytes(12).toString('hex'),
  };
}

/** "<boot id>/pid:[<inode>]" on Linux; undefined where there is no /proc (macOS has no pid namespaces). */
function pidNamespace(): string | undefined {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}

/**
 * Exit 0 and take the lock, or exit 75 and print `{"age":<seconds since the last heartbeat>,"info":<the info file's
 * text as it is>}`: an empty or torn info (a full disk) is still a lock with an age, so it goes stale. A lock whose
 * info cannot be written is given back at once (exit 1) rather than left without a holder.
 */
export function acquireLock(stateDir: string, info: LockInfo): Command {
  return script(
    'write',
    `take the deploy lock (${info.command})`,
    [
      'mkdir -p "$1"',
      'if mkdir "$2" 2>/dev/null; then',
      '  printf "%s\\n" "$3" > "$2/info.json" && exit 0',
      '  rm -rf "$2"; echo "cannot write the lock info $2/info.json (is the disk full?)" >&2; exit 1',
      'fi',
      'm=$(stat -c %Y "$2/info.json" 2>/dev/null || stat -c %Y "$2" 2>/dev/null || date +%s)',
      'printf \'{"age":%s,"info":%s}\\n\' "$(( $(date +%s) - m ))" "$(cat "$2/info.json" 2>/dev/null)"',
      'exit 75',
    ].join('\n'),
    stateDir,
    lockDir(stateDir),
    JSON.stringify(info),
  );
}

/**
 * Shows the holder is alive (the lock's mtime is its heartbeat), if the lock is still the one it wrote (`infoText`);
 * else exits LOCK_LOST_EXIT printing the lock's info now.
 */
export function heartbeat(stateDir: string, infoText: string): Command {
  return script(
    'write',
    'refresh the deploy lock',
    `i=$(cat "$1/info.json" 2>/dev/null); [ "$i" = "$2" ] || { printf '%s\\n' "$i"; exit ${LOCK_LOST_EXIT}; }; touch "$1/info.json" 2>/dev/null || true`,
    lockDir(stateDir),
    infoText,
  );
}

/**
 * Removes a stale lock, but only if it is still the one we judged stale (same holder text): two commands that both
 * found it stale cannot take it over from each other.
 */
export function breakStaleLock(stateDir: string, heldInfoText: string): Command {
  return script(
    'write',
    'take over a stale deploy lock',
    '[ "$(cat "$1/info.json" 2>/dev/null)" = "$2" ] && mv "$1" "$1.stale.$$" && rm -rf "$1.stale.$$"',
    lockDir(stateDir),
    heldInfoText,
  );
}

/** Removes the lock if it is still the one written as `heldInfoText`; without it, whatever lock is there (lock release). */
export function releaseLock(stateDir: string, heldInfoText?: string): Command {
  if (heldInfoText === undefined) return script('write', 'release the deploy lock', 'rm -rf "$1"', lockDir(stateDir));
  return script(
    'write',
    'release the deploy lock',
    '[ "$(cat "$1/info.json" 2>/dev/null)" = "$2" ] || exit 0; mv "$1" "$1.released.$$" && rm -rf "$1.released.$$"',
    lockDir(stateDir),
    heldInfoText,
  );
}

export function readLock(stateDir: string): Command {
  return readFileCommand('read the deploy lock', `${lockDir(stateDir)}/info.json`);
}

/** Seconds since the lock's last heartbeat, by the host's clock; empty output when there is no lock. */
export function lockAge(stateDir: string): Command {
  return script(
    'read',
    'check the deploy lock heartbeat',
    'f="$1/info.json"; [ -e "$f" ] && echo $(( $(date +%s) - $(stat -c %Y "$f") )) || true',
    lockDir(stateDir),
  );
}

export function parseLockInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    return v && typeof v.who === 'string' ? (v as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The held-lock answer of acquireLock: the holder, its info as written (for breakStaleLock, which compares the text)
 * and its silence. The info is taken as text, not parsed with the age: an empty or torn one keeps its age.
 */
export function parseHeldLock(text: string): { info?: LockInfo; infoText: string; ageSeconds: number } {
  const m = /^\{"age":(-?\d+),"info":([\s\S]*)\}\s*$/.exec(text);
  if (!m) return { infoText: '', ageSeconds: Number.NaN };
  const infoText = m[2]!;
  return { info: parseLockInfo(infoText), infoText, ageSeconds: Number(m[1]) };
}

/** Whether a process runs on this machine (signal 0 checks without signalling; EPERM means it exists). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why a held lock is stale, or undefined when its holder may still be working. Pure given `alive`, for tests.
 * A holder on this machine, in this pid namespace, whose pid is gone is stale at once; any holder is stale after
 * the stale window (staleAfterSeconds) of silence (older locks without a machine, pid or namespace only that way).
 */
export function staleReason(
  held: { info?: LockInfo; ageSeconds: number },
  here: string = hostname(),
  alive: (pid: number) => boolean = pidAlive,
  ns: string | undefined = pidNamespace(),
): string | undefined {
  const info = held.info;
  const samePids = info?.machine === here && info.pidns === ns;
  if (samePids && typeof info?.pid === 'number' && !alive(info.pid)) return `its process ${info.pid} on ${here} is gone`;
  if (held.ageSeconds > staleAfterSeconds()) return `no heartbeat for ${held.ageSeconds}s`;
  return undefined;
}
