/**
 * The release ledger: one JSON line per release landed on a host (append-only, in the service's state dir). It is
 * the hosts' own memory of what was shipped, so `rollback` and `releases` work from any machine.
 */
import { userInfo, hostname } from 'node:os';
import { type Command, script } from '../hosts/command.js';
import type { SshHost } from '../hosts/ssh.js';

export interface LedgerEntry {
  tag: string;
  sha: string;
  imageId: string;
  time: string;
  user: string;
  bytes: number;
}

export function ledgerFile(stateDir: string): string {
  return `${stateDir}/releases.jsonl`;
}

export function readLedgerCommand(stateDir: string): Command {
  return script('read the release ledger', 'cat "$1" 2>/dev/null || true', ledgerFile(stateDir));
}

export function appendLedgerCommand(stateDir: string, entry: LedgerEntry): Command {
  return script(`record release ${entry.tag} in the ledger`, 'mkdir -p "$1" && printf "%s\\n" "$2" >> "$3"', stateDir, JSON.stringify(entry), ledgerFile(stateDir));
}

/** Lines that do not parse are skipped: a torn last line must not hide the releases before it. */
export function parseLedger(text: string): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LedgerEntry;
      if (typeof e.tag === 'string' && typeof e.imageId === 'string') out.push(e);
    } catch {
      /* torn or foreign line */
    }
  }
  return out;
}

/** Newest first, one entry per tag (a re-release of a tag moves it to the front). */
export function releasesNewestFirst(entries: LedgerEntry[]): LedgerEntry[] {
  const seen = new Set<string>();
  const out: LedgerEntry[] = [];
  for (const e of [...entries].reverse()) {
    if (seen.has(e.tag)) continue;
    seen.add(e.tag);
    out.push(e);
  }
  return out;
}

export function whoAmI(): string {
  return `${userInfo().username}@${hostname()}`;
}

export async function readLedger(host: SshHost, stateDir: string): Promise<LedgerEntry[]> {
  return parseLedger(await host.run(readLedgerCommand(stateDir)));
}
