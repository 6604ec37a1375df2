/**
 * The release ledger: one JSON line per release landed on a host (append-only, in the service's state dir). It is
 * the hosts' own memory of what was shipped, so `rollback` and `releases` work from any machine.
 */
import { userInfo, hostname } from 'node:os';
import type { Command } from '../hosts/command.js';
import { appendJsonLine, parseJsonLines, readFileCommand } from './jsonl.js';
import type { Runner } from '../hosts/runner.js';

export interface LedgerEntry {
  tag: string;
  sha: string;
  imageId: string;
  time: string;
  user: string;
  bytes: number;
}

const LEDGER = 'releases.jsonl';

function ledgerFile(stateDir: string): string {
  return `${stateDir}/${LEDGER}`;
}

export function readLedgerCommand(stateDir: string): Command {
  return readFileCommand('read the release ledger', ledgerFile(stateDir));
}

export function appendLedgerCommand(stateDir: string, entry: LedgerEntry): Command {
  return appendJsonLine(`record release ${entry.tag} in the ledger`, stateDir, LEDGER, entry);
}

export function parseLedger(text: string): LedgerEntry[] {
  return parseJsonLines<LedgerEntry>(text, (e) => typeof e.tag === 'string' && typeof e.imageId === 'string');
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

export async function readLedger(host: Runner, stateDir: string): Promise<LedgerEntry[]> {
  return parseLedger(await host.run(readLedgerCommand(stateDir)));
}
