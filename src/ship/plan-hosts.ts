/**
 * What each host of a release gets, decided from what the hosts said (pure; ship-image.ts, relay.ts and ship-host.ts
 * act on it): the one codec for every host, which hosts form a relay chain (those that lack the same layers), whom a
 * head relays to once it probed them, the address a head reaches a member at, and whether what a relay brought a
 * host is the image it must show or it falls back to a direct send.
 */
import type { Config, HostConfig } from '../config/types.js';
import { knownHostsLine } from '../hosts/known-hosts.js';
import type { Runner } from '../hosts/runner.js';
import type { Codec } from './cache.js';
import { type HostInventory, loadsZstd } from './inventory.js';
import { checkPlatform, type ImagePlatform } from './platform.js';
import type { RelayOutcome, RelayTarget } from './transfer.js';

/** A host to ship to: open (a runner) or not reachable (the error says why). */
export type ShipConnection = { host: HostConfig; ssh?: Runner; error?: Error };

/** The codec for this release: one for every host, so each layer is compressed once. */
export function chooseCodec(setting: Config['ship']['compression'], hosts: Pick<HostInventory, 'version'>[], haveZstd: boolean): { codec: Codec; why: string } {
  const old = hosts.filter((h) => !loadsZstd(h));
  if (setting === 'gzip' || setting === 'none') return { codec: setting, why: 'ship.compression' };
  if (setting === 'zstd' && !haveZstd) return { codec: 'gzip', why: 'ship.compression is zstd, but this machine has no zstd program: gzip instead' };
  if (setting === 'zstd' && old.length)
    return {
      codec: 'gzip',
      why: `ship.compression is zstd, but ${old.length} host(s) run a Docker older than 23, whose docker load refuses zstd: gzip instead`,
    };
  if (setting === 'zstd') return { codec: 'zstd', why: 'ship.compression' };
  if (!haveZstd) return { codec: 'gzip', why: 'no zstd program on this machine' };
  if (old.length) return { codec: 'gzip', why: 'a host runs a Docker older than 23 (no zstd in docker load)' };
  return { codec: 'zstd', why: 'every host loads zstd' };
}

/** One host as far as relaying goes. */
export interface RelayHost {
  /** Live (not a dry run) with a host key the deployer checked, so a head can reach it under that key. */
  reachable: boolean;
  /** The layer indexes it lacks (undefined: its inventory failed). */
  missing?: readonly number[];
  /** Its engine's `os/arch`, from its inventory. */
  platform?: string;
}

/**
 * Who may be in a relay chain (relayChains' input): with ship.relay auto, the reachable hosts whose inventory came
 * in and that run the image's platform (any other is refused before a byte is sent, so it relays nothing either).
 */
export function relayCandidates(
  relay: Config['ship']['relay'],
  image: { ref: string; platform: ImagePlatform },
  hosts: readonly RelayHost[],
): (readonly number[] | undefined)[] {
  return hosts.map((h, k) => {
    if (relay !== 'auto' || !h.reachable || !h.missing || h.platform === undefined) return undefined;
    try {
      checkPlatform(`h${k}`, image.ref, image.platform, h.platform);
    } catch {
      return undefined;
    }
    return h.missing;
  });
}

export interface RelayChains {
  /** Head (host index) -> the hosts it forwards to, in host order. */
  chains: Map<number, number[]>;
  /** Member -> its chain's head. */
  headOf: Map<number, number>;
}

/**
 * Relay chains (ship.relay auto): hosts that lack the same layers get the same bytes, so the first of them takes
 * them from the deployer and forwards them to the next, and so on. `missing[k]`: the layer indexes host k lacks, or
 * undefined when it cannot be in a chain (not live, no inventory, no host key, another platform). A host that lacks
 * nothing, or whose set of missing layers no other host shares, gets a direct send.
 */
export function relayChains(missing: readonly (readonly number[] | undefined)[]): RelayChains {
  const groups = new Map<string, number[]>();
  missing.forEach((m, k) => {
    if (!m || m.length === 0) return;
    const id = m.join(',');
    groups.set(id, [...(groups.get(id) ?? []), k]);
  });
  const chains = new Map<number, number[]>();
  const headOf = new Map<number, number>();
  for (const ks of groups.values()) {
    if (ks.length < 2) continue;
    chains.set(ks[0]!, ks.slice(1));
    for (const m of ks.slice(1)) headOf.set(m, ks[0]!);
  }
  return { chains, headOf };
}

/**
 * Whom a head relays to, from its relay probe's output (`ok h<k>` or `fail h<k> <why>` per member, commands.ts
 * relayProbe): the members it reached; the others get a direct send, with the reason (no line at all: no answer).
 */
export function probeVerdict(out: string, members: readonly number[]): { relay: number[]; failed: Map<number, string> } {
  const relay: number[] = [];
  const failed = new Map<number, string>();
  for (const m of members) {
    const line = out.split('\n').find((l) => l.split(' ')[1] === `h${m}`) ?? `fail h${m} no answer`;
    if (line.startsWith('ok ')) relay.push(m);
    else failed.set(m, line.split(' ').slice(2).join(' ') || 'no answer');
  }
  return { relay, failed };
}

/**
 * Whether a relayed host got the image: its relay hop succeeded and the host shows the ID its store must give the
 * image. Otherwise why not (the host then gets a direct send).
 */
export function relayVerdict(o: RelayOutcome, store: 'classic' | 'containerd'): { ok: true; imageId: string } | { ok: false; why: string } {
  const want = o.ids?.[store];
  if (o.ok && want && o.id === want) return { ok: true, imageId: want };
  return { ok: false, why: (o.ok ? `it shows image ${o.id}, expected ${want}` : o.error) ?? 'unknown' };
}

/** A host a relay head forwards to, as the head reaches it (its relay_address) under the key the deployer checked. */
export function relayTarget(connections: readonly ShipConnection[], m: number): RelayTarget {
  const h = connections[m]!.host;
  const a = h.relayAddress ?? { user: h.user, hostname: h.hostname, port: h.port };
  const key = connections[m]!.ssh!.hostKey()!;
  return { label: `h${m}`, dest: `${a.user}@${a.hostname}`, port: a.port, knownHostsLine: knownHostsLine(a.hostname, a.port, key) };
}
