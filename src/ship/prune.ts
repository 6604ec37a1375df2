/**
 * Keeps the newest `keep` releases on a host and removes the images of older ones. An image a container still
 * uses cannot be removed (docker refuses), which is what protects a release that is still serving.
 */
import { command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import type { LedgerEntry } from '../state/ledger.js';

export function tagsToPrune(newestFirst: LedgerEntry[], keep: number, protect: ReadonlySet<string> = new Set()): string[] {
  return newestFirst.slice(keep).map((e) => e.tag).filter((t) => !protect.has(t));
}

export async function pruneImages(ssh: Runner, service: string, newestFirst: LedgerEntry[], keep: number, protect?: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const tag of tagsToPrune(newestFirst, keep, protect)) {
    const r = await ssh.exec(command(`remove old release ${tag}`, 'docker', 'image', 'rm', `${service}:${tag}`), { allowFailure: true });
    if (r.code === 0) removed.push(tag);
  }
  return removed;
}
