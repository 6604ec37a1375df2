/**
 * Which release a rollout or rollback goes to, decided from the hosts' own ledgers and deploy histories, and only
 * among releases whose image is present on every host (so no transfer is ever needed).
 */
import { releasesOnHost } from '../ship/present.js';
import type { LedgerEntry } from '../state/ledger.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { InputError } from '../util/errors.js';
import { relState, type DeployContext } from './context.js';
import { shortSha } from '../util/short.js';

export interface FleetReleases {
  /** Releases present on every host, newest first. */
  everywhere: LedgerEntry[];
  current?: string;
  previous?: string;
}

/**
 * The releases whose image every holder has (per holder: its present ledger entries), newest first by the release's
 * own time: a host that got an old release later (a Swarm node caught up) keeps its original time, so it does not
 * become the newest there.
 */
export function presentOnEvery(perHolder: LedgerEntry[][]): LedgerEntry[] {
  const [first, ...rest] = perHolder;
  const newest = new Map<string, string>();
  for (const e of perHolder.flat()) if ((newest.get(e.tag) ?? '') < e.time) newest.set(e.tag, e.time);
  return (first ?? []).filter((e) => rest.every((h) => h.some((x) => x.tag === e.tag))).sort((a, b) => newest.get(b.tag)!.localeCompare(newest.get(a.tag)!));
}

export async function fleetReleases(ctx: DeployContext): Promise<FleetReleases> {
  const dir = relState(ctx);
  const perHost = await Promise.all(
    ctx.hosts.map(async (ssh) => {
      const [releases, deploys] = await Promise.all([releasesOnHost(ssh, ctx.config.service), ssh.run(readDeploys(dir)).then(parseDeploys)]);
      return { ledger: releases.filter((e) => e.present), deploys };
    }),
  );
  // Hosts agree unless a run was cut off; the first host's history speaks for the fleet.
  const { current, previous } = currentAndPrevious(perHost[0]?.deploys ?? []);
  return { everywhere: presentOnEvery(perHost.map((h) => h.ledger)), current, previous };
}

/**
 * Where `rollback` goes without --to, on either backend: a canary in progress is aborted (back to the current
 * release); otherwise the release that served before the current one.
 */
export function rollbackTarget(releases: FleetReleases, canaryInProgress: boolean): { target: string; abortsCanary: boolean } {
  if (canaryInProgress && releases.current !== undefined) return { target: releases.current, abortsCanary: true };
  if (!releases.previous) {
    throw new InputError('there is no previous release to roll back to', {
      hint: 'boxship rollback works once a second release has been rolled out; see: boxship releases',
    });
  }
  return { target: releases.previous, abortsCanary: false };
}

export function pickRelease(releases: FleetReleases, wanted: string | undefined, hosts: string[]): string {
  if (wanted === undefined) {
    const newest = releases.everywhere[0];
    if (!newest) throw new InputError(`no release is present on every host (${hosts.join(', ')})`, { hint: 'run: boxship release' });
    return newest.tag;
  }
  const matches = releases.everywhere.filter((e) => e.tag === wanted || e.tag.startsWith(wanted));
  const exact = matches.find((e) => e.tag === wanted);
  if (exact) return exact.tag;
  if (matches.length === 1) return matches[0]!.tag;
  if (matches.length > 1)
    throw new InputError(`"${wanted}" matches ${matches.length} releases: ${matches.map((m) => m.tag.slice(0, 16)).join(', ')}`, {
      hint: 'give more of the sha',
    });
  throw new InputError(`release "${wanted}" is not present on every host`, {
    hint: `releases on every host: ${releases.everywhere.map((e) => shortSha(e.tag)).join(', ') || 'none'}; ship it first with: boxship release`,
  });
}
