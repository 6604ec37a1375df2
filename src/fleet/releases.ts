/**
 * Which release a rollout or rollback goes to, decided from the hosts' own ledgers and deploy histories, and only
 * among releases whose image is present on every host (so no transfer is ever needed).
 */
import { releasesOnHost } from '../ship/present.js';
import type { LedgerEntry } from '../state/ledger.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { InputError } from '../util/errors.js';
import { relState, type DeployContext } from './context.js';

export interface FleetReleases {
  /** Releases present on every host, newest first. */
  everywhere: LedgerEntry[];
  current?: string;
  previous?: string;
}

export async function fleetReleases(ctx: DeployContext): Promise<FleetReleases> {
  const dir = relState(ctx);
  const perHost = await Promise.all(
    ctx.hosts.map(async (ssh) => {
      const [releases, deploys] = await Promise.all([releasesOnHost(ssh, ctx.config.service), ssh.run(readDeploys(dir)).then(parseDeploys)]);
      return { ledger: releases.filter((e) => e.present), deploys };
    }),
  );
  const [first, ...rest] = perHost;
  const everywhere = (first?.ledger ?? []).filter((e) => rest.every((h) => h.ledger.some((x) => x.tag === e.tag)));
  // Hosts agree unless a run was cut off; the first host's history speaks for the fleet.
  const { current, previous } = currentAndPrevious(first?.deploys ?? []);
  return { everywhere, current, previous };
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
    hint: `releases on every host: ${releases.everywhere.map((e) => e.tag.slice(0, 12)).join(', ') || 'none'}; ship it first with: boxship release`,
  });
}
