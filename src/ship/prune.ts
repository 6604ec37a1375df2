/**
 * Keeps the newest `releases.keep` releases on a host and removes the images of older ones, never one that is
 * needed: the current and previous release (rollback's targets), any release a container of the service uses
 * (serving, canary, starting or draining), and nothing at all while another command holds the deploy lock (a
 * rollout in flight may be moving to an older release). Pruning takes the lock itself for the same reason.
 * Accessory images are not releases (not in the ledger), so they are never candidates; a release an accessory runs
 * is kept too.
 */
import { listAccessoryImages, parseAccessoryImages } from '../accessories/commands.js';
import { command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { listInstances, parseInstances } from '../rollout/instance-commands.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import type { LedgerEntry } from '../state/ledger.js';
import { whoAmI } from '../state/ledger.js';
import { acquireLock, lockInfoHere, releaseLock } from '../state/lock.js';
import { stateDir } from '../state/paths.js';

export function tagsToPrune(newestFirst: LedgerEntry[], keep: number, protect: ReadonlySet<string> = new Set()): string[] {
  return newestFirst
    .slice(keep)
    .map((e) => e.tag)
    .filter((t) => !protect.has(t));
}

export interface PruneResult {
  removed: string[];
  /** Old releases kept beyond `keep` because something needs them, with why. */
  kept: { tag: string; why: string }[];
  /** Set when pruning was skipped on this host (a deploy lock was held). */
  skipped?: string;
}

/**
 * What each release beyond `keep` is still needed for (pure). `accessories`: the image each accessory container runs
 * (an accessory may run an image of the service, e.g. a worker), which is never removed under it.
 */
function protectedReleases(deploys: ReturnType<typeof parseDeploys>, inUse: string[], accessories: { name: string; tag: string }[] = []): Map<string, string> {
  const why = new Map<string, string>();
  const { current, previous } = currentAndPrevious(deploys);
  for (const a of accessories) why.set(a.tag, `accessory ${a.name} uses it`);
  for (const tag of inUse) why.set(tag, 'a container uses it');
  if (previous) why.set(previous, 'it is the previous release (rollback)');
  if (current) why.set(current, 'it is the current release');
  return why;
}

export async function pruneReleases(ssh: Runner, service: string, newestFirst: LedgerEntry[], keep: number): Promise<PruneResult> {
  if (newestFirst.length <= keep) return { removed: [], kept: [] };
  const dir = stateDir(service);
  const info = lockInfoHere(whoAmI(), 'boxship release (pruning old releases)');
  const lock = await ssh.exec(acquireLock(dir, info), { allowFailure: true });
  if (lock.code !== 0)
    return { removed: [], kept: [], skipped: 'another boxship command holds the deploy lock; old releases are pruned after the next release' };
  try {
    const [deploys, instances, accessories] = await Promise.all([
      ssh.run(readDeploys(dir)).then(parseDeploys),
      ssh.run(listInstances(service)).then(parseInstances),
      ssh.run(listAccessoryImages(service)).then(parseAccessoryImages),
    ]);
    const prefix = `${service}:`;
    const accessoryTags = accessories.flatMap((a) => (a.image.startsWith(prefix) ? [{ name: a.name, tag: a.image.slice(prefix.length) }] : []));
    const protect = protectedReleases(
      deploys,
      instances.map((i) => i.tag),
      accessoryTags,
    );
    const kept = newestFirst.slice(keep).flatMap((e) => {
      const why = protect.get(e.tag);
      return why ? [{ tag: e.tag, why }] : [];
    });
    const removed: string[] = [];
    for (const tag of tagsToPrune(newestFirst, keep, new Set(protect.keys()))) {
      const r = await ssh.exec(command('write', `remove old release ${tag}`, 'docker', 'image', 'rm', `${service}:${tag}`), { allowFailure: true });
      if (r.code === 0) removed.push(tag);
    }
    return { removed, kept };
  } finally {
    await ssh.run(releaseLock(dir, JSON.stringify(info))).catch(() => {});
  }
}
