/**
 * Ships a built image to every host in parallel: ask each host once what it has (platform, engine, store, images,
 * layers), refuse an image built for another platform before sending anything, and send each host only the layers
 * it lacks, in the one archive format every engine loads (archive.ts), in parts that load while the rest is on the
 * wire (wire.ts); then check, tag, record it in the ledger and prune old releases.
 *
 * Each layer is compressed once, not once per host: its compressed form comes from the deployer's layer cache
 * (cache.ts) or from the one streamed `docker save` that compresses it into that cache (supply.ts), and every host
 * that lacks it gets those bytes. A code-only change compresses only its new layer.
 */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Config } from '../config/types.js';
import type { HostConfig } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { appendAudit } from '../state/audit.js';
import { appendLedgerCommand, parseLedger, readLedgerCommand, releasesNewestFirst, whoAmI } from '../state/ledger.js';
import { sequence } from '../hosts/command.js';
import { stateDir } from '../state/paths.js';
import { pruneReleases } from './prune.js';
import { expectedImageId, thinArchive } from './archive.js';
import { cacheLimits, type Codec, LayerCache } from './cache.js';
import { inventory, relayProbe, tagImage } from './commands.js';
import { compressorName, zstdAvailable } from './compress.js';
import { type HostInventory, loadsZstd, parseInventory } from './inventory.js';
import { planLayers } from './layers.js';
import { checkPlatform, type ImagePlatform } from './platform.js';
import { layerSupply, type LayerSupply, type SupplyStats } from './supply.js';
import { incomingName, type RelayOutcome, type RelayTarget, sendImage } from './transfer.js';
import { knownHostsLine } from '../hosts/known-hosts.js';
import type { Report } from '../util/events.js';
import { errorMessage, HostError } from '../util/errors.js';
import { debug } from '../util/debug.js';

interface ImageToShip {
  imageId: string;
  /** `<service>:<tag>` */
  ref: string;
  tag: string;
  sha: string;
}

export interface HostShipResult {
  host: string;
  ok: boolean;
  error?: Error;
  alreadyPresent?: boolean;
  /** The host's image store, and the ID `docker images` shows there (config digest on classic, manifest on containerd). */
  store?: 'classic' | 'containerd';
  imageId?: string;
  bytesSent: number;
  bytesReceived: number;
  layersSent: number;
  layersSkipped: number;
  /** Loads the image went in on the host (parts that load while later ones are on the wire). */
  parts?: number;
  /** The host got its bytes from this host (a relay hop), not from the deployer. */
  relayedFrom?: string;
  /** Hosts this one forwarded its bytes to. */
  relayedTo?: string[];
  /** Why a relay to this host failed (it then got a direct send). */
  relayFailed?: string;
  seconds: number;
  pruned: string[];
}

export interface ShipSummary {
  hosts: HostShipResult[];
  /** Uncompressed size of the full image: what a plain save|load would send to each host (when a save ran). */
  fullImageBytes?: number;
  /** Where the layers came from: the cache, a compression, a save. */
  transfer?: TransferSummary;
}

type TransferSummary = SupplyStats & {
  codec: Codec;
  /** What made the layers compressed in this release (compress.ts compressorName). */
  compressor: ReturnType<typeof compressorName>;
  /** Why that codec. */
  codecReason: string;
  cacheDir: string;
};

/** A host to ship to: open (a runner) or not reachable (the error says why). */
type ShipConnection = { host: HostConfig; ssh?: Runner; error?: Error };

export interface ShipOptions {
  config: Config;
  docker: Docker;
  image: ImageToShip;
  connections: ShipConnection[];
  report: Report;
  onHostDone?: (r: HostShipResult) => void;
  /** Record a release in the ledger and prune old ones (false for support images such as the proxy). */
  recordRelease?: boolean;
}

/** Below this many (uncompressed) bytes a host lacks, direct sends beat a relay hop. */
const RELAY_MIN_BYTES = 16 << 20;

/** The layer cache, or, where it cannot be written (a read-only home), one in the temp dir for this run. */
async function usableCache(report: Report): Promise<LayerCache> {
  const cache = new LayerCache();
  try {
    await mkdir(cache.dir, { recursive: true });
    await access(cache.dir, constants.W_OK);
    return cache;
  } catch (err) {
    const fallback = new LayerCache(join(tmpdir(), `boxship-layers-${process.getuid?.() ?? 'user'}`));
    report({
      kind: 'warning',
      message: `cannot use the layer cache ${cache.dir} (${errorMessage(err)}): using ${fallback.dir}; set BOXSHIP_CACHE_DIR to a writable folder to keep compressed layers between releases`,
    });
    return fallback;
  }
}

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

export async function shipImage(opts: ShipOptions): Promise<ShipSummary> {
  const { config, docker, image, report } = opts;
  const dir = stateDir(config.service);
  const cache = await usableCache(report);
  const started = Date.now();
  const inspected = (await docker.getImage(image.imageId).inspect()) as {
    RootFS?: { Layers?: string[] };
    Os?: string;
    Architecture?: string;
    Variant?: string;
  };
  const diffIds = inspected.RootFS?.Layers ?? [];
  const platform: ImagePlatform = {
    os: inspected.Os || 'linux',
    architecture: inspected.Architecture || 'amd64',
    ...(inspected.Variant ? { variant: inspected.Variant } : {}),
  };

  // A save is certain when the cache lacks the image config (a new build): start it now, beside the inventories.
  const live = opts.connections.some((c) => c.ssh && !c.ssh.dryRun);
  let firstSave: Promise<Readable> | undefined;
  if (live && !(await cache.lookup('config', image.imageId))) {
    firstSave = docker.getImage(image.imageId).get() as unknown as Promise<Readable>;
    firstSave.catch(() => {});
  }
  const probe = relayProbes(opts);
  // Every host's inventory, in parallel; the codec and what to compress follow from all of them.
  const inventories = opts.connections.map((conn) => {
    if (!conn.ssh) return Promise.reject(conn.error ?? new Error('not connected'));
    report({ kind: 'step', host: conn.ssh.name, message: 'checking which layers the host has' });
    return conn.ssh.run(inventory()).then(parseInventory);
  });
  for (const p of inventories) p.catch(() => {});
  const settled = await Promise.allSettled(inventories);
  debug(`inventories of ${settled.length} hosts in ${Date.now() - started} ms`);
  const known = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const { codec, why } = chooseCodec(config.ship.compression, known, zstdAvailable());
  const plans = settled.map((r) => (r.status === 'fulfilled' ? planLayers(diffIds, r.value.layers) : undefined));
  // A plan (dry run) only reads: the supply starts when something asks for it.
  let supply: LayerSupply | undefined;
  const getSupply = () => {
    if (!supply) {
      supply = layerSupply({
        docker,
        imageId: image.imageId,
        diffIds,
        codec,
        cache,
        firstSave,
        onCorrupt: (d) =>
          report({ kind: 'warning', message: `layer cache entry ${d.slice(7, 19)} in ${cache.dir} was corrupt (wrong digest): removed, compressing it again` }),
      });
      supply.done().catch(() => {});
      supply.need(plans.flatMap((p, k) => (p && !opts.connections[k]!.ssh?.dryRun ? p.missing.map((i) => diffIds[i]!) : [])));
    }
    return supply;
  };
  if (live) getSupply();

  // Relay chains (ship.relay auto): hosts that lack the same layers get the same bytes, so the first of them takes
  // them from here and forwards them to the next, and so on; each host still checks and loads its own copy.
  const relayHead = new Map<number, number>();
  const chains = new Map<number, number[]>();
  const relayed = new Map<number, { promise: Promise<RelayOutcome>; resolve: (o: RelayOutcome) => void }>();
  if (config.ship.relay === 'auto') {
    const groups = new Map<string, number[]>();
    opts.connections.forEach((c, k) => {
      const p = plans[k];
      const inv = settled[k]!.status === 'fulfilled' ? (settled[k] as PromiseFulfilledResult<HostInventory>).value : undefined;
      const key = c.ssh?.hostKey();
      if (!c.ssh || c.ssh.dryRun || !p || !inv || p.missing.length === 0 || !key) return;
      try {
        checkPlatform(c.ssh.name, image.ref, platform, inv.platform);
      } catch {
        return;
      }
      const id = p.missing.join(',');
      groups.set(id, [...(groups.get(id) ?? []), k]);
    });
    for (const ks of groups.values()) {
      if (ks.length < 2) continue;
      chains.set(ks[0]!, ks.slice(1));
      for (const m of ks.slice(1)) {
        relayHead.set(m, ks[0]!);
        let resolve!: (o: RelayOutcome) => void;
        const promise = new Promise<RelayOutcome>((r) => (resolve = r));
        relayed.set(m, { promise, resolve });
      }
    }
  }
  /**
   * Which members a head relays to: decided once the layers it sends reach RELAY_MIN_BYTES (below that a direct
   * send costs less than a hop), and only those the head can open an SSH session on (probed once; the others get a
   * direct send at once, with the reason in progress and in the summary).
   */
  const decisions = new Map<number, Promise<number[]>>();
  const probeFailed = new Map<number, string>();
  const decide = (head: number): Promise<number[]> => {
    let d = decisions.get(head);
    if (!d) {
      d = (async () => {
        const members = chains.get(head) ?? [];
        const missing = plans[head]!.missing.map((i) => diffIds[i]!);
        if (!(await reaches(missing, RELAY_MIN_BYTES))) return [];
        const out = await probe(head, members);
        return members.filter((m) => {
          const line = out.split('\n').find((l) => l.split(' ')[1] === `h${m}`) ?? `fail h${m} no answer`;
          if (line.startsWith('ok ')) return true;
          const why = line.split(' ').slice(2).join(' ') || 'no answer';
          probeFailed.set(m, why);
          report({
            kind: 'step',
            host: opts.connections[m]!.host.name,
            message: `no relay from ${opts.connections[head]!.host.name} (${why}): sending directly`,
          });
          return false;
        });
      })().catch(() => []);
      decisions.set(head, d);
    }
    return d;
  };
  /** True once the known sizes of these layers add up to `min`, false when all are known and they do not. */
  const reaches = (layers: string[], min: number): Promise<boolean> =>
    new Promise((resolve) => {
      let sum = 0;
      let left = layers.length;
      if (!left) resolve(false);
      for (const d of layers)
        getSupply()
          .size(d)
          .then(
            (n) => {
              sum += n;
              if (sum >= min) resolve(true);
              if (--left === 0) resolve(sum >= min);
            },
            () => {
              if (--left === 0) resolve(sum >= min);
            },
          );
    });

  const shipOne = async (conn: ShipConnection, k: number): Promise<HostShipResult> => {
    const result: HostShipResult = { host: conn.host.name, ok: false, bytesSent: 0, bytesReceived: 0, layersSent: 0, layersSkipped: 0, seconds: 0, pruned: [] };
    const members = chains.get(k) ?? [];
    try {
      if (!conn.ssh) throw conn.error;
      const ssh = conn.ssh;
      const inv = await inventories[k]!;
      const plan = plans[k]!;
      result.store = inv.store;
      checkPlatform(ssh.name, image.ref, platform, inv.platform);
      const supply = getSupply();
      const name = incomingName(config.service);
      let present = false;
      if (plan.missing.length === 0) {
        // Every layer is there: the image itself may be, under the ID its store gives it.
        const sizes = await Promise.all(diffIds.map((d) => supply.size(d)));
        const archive = thinArchive({ config: await supply.config(), layers: diffIds.map((diffId, i) => ({ diffId, size: sizes[i]! })) }, [], name);
        const id = expectedImageId(archive, inv.store);
        result.imageId = id;
        present = inv.imageIds.has(id);
      }
      if (present) {
        result.alreadyPresent = true;
        await ssh.run(tagImage(result.imageId!, image.ref));
        report({ kind: 'step', host: ssh.name, message: 'image already on the host: tagged, nothing sent' });
      } else {
        if (inv.contentUnavailable) {
          report({
            kind: 'warning',
            host: ssh.name,
            message: `cannot list the containerd content store (${inv.contentUnavailable}): sending every layer; give the SSH user access to ctr (root or sudo -n) to ship only what is missing`,
          });
        }
        report({
          kind: 'step',
          host: ssh.name,
          message: `sending ${plan.missing.length} of ${diffIds.length} layers (${plan.present.length} already there, ${inv.store} image store, ${codec})`,
        });
        let head = relayHead.get(k);
        if (head !== undefined && !(await decide(head)).includes(k)) {
          if (probeFailed.has(k)) result.relayFailed = probeFailed.get(k);
          head = undefined;
        }
        let done = false;
        if (head !== undefined) {
          const headName = opts.connections[head]!.host.name;
          report({ kind: 'step', host: ssh.name, message: `receiving ${plan.missing.length} of ${diffIds.length} layers from ${headName} (relay)` });
          const o = await relayed.get(k)!.promise;
          const want = o.ids?.[inv.store];
          if (o.ok && want && o.id === want) {
            Object.assign(result, {
              bytesSent: o.bytesSent ?? 0,
              bytesReceived: o.bytesReceived ?? 0,
              parts: o.parts,
              imageId: want,
              relayedFrom: headName,
              layersSent: plan.missing.length,
              layersSkipped: plan.present.length,
            });
            done = true;
          } else {
            const why = o.ok ? `it shows image ${o.id}, expected ${want}` : o.error;
            report({
              kind: 'warning',
              host: ssh.name,
              message: `relay from ${headName} failed (${why}): sending directly (a relay needs ${headName} to reach this host at its relay_address, with an SSH key or a forwarded agent that this host accepts)`,
            });
            result.relayFailed = why;
          }
        }
        if (ssh.dryRun) {
          (ssh as { note?: (why: string) => void }).note?.(
            `send ${plan.missing.length} of ${diffIds.length} layers of ${image.ref} (${codec}), check, load and tag them`,
          );
        } else if (!done) {
          let last = 0;
          const t0 = Date.now();
          const relayTo = members.length ? await decide(k) : [];
          const targets = relayTo.map((m) => relayTarget(opts.connections, m));
          const relayNote = targets.length ? `, relaying to ${relayTo.map((m) => opts.connections[m]!.host.name).join(', ')}` : '';
          if (targets.length) report({ kind: 'step', host: ssh.name, message: `sending ${plan.missing.length} of ${diffIds.length} layers${relayNote}` });
          let sent: Awaited<ReturnType<typeof sendImage>>;
          try {
            sent = await sendImage(ssh, supply, {
              stateDir: dir,
              tag: image.ref,
              name,
              missing: plan.missing,
              platform,
              store: inv.store,
              relay: targets,
              onBytes: (n) => {
                const now = Date.now();
                if (now - last < 250) return;
                last = now;
                const bytesPerSecond = n / Math.max(0.001, (now - t0) / 1000);
                report({ kind: 'bytes', host: ssh.name, sent: n, bytesPerSecond });
                // The relayed hosts get the same bytes as they pass through this one.
                for (const m of relayTo) report({ kind: 'bytes', host: opts.connections[m]!.host.name, sent: n, bytesPerSecond });
              },
            });
          } catch (err) {
            const r = (err as { relayed?: Map<string, RelayOutcome> }).relayed;
            if (r) for (const [j, m] of relayTo.entries()) relayed.get(m)!.resolve(r.get(targets[j]!.label) ?? { ok: false, error: (err as Error).message });
            throw err;
          }
          for (const [j, m] of relayTo.entries()) relayed.get(m)!.resolve(sent.relayed.get(targets[j]!.label)!);
          if (relayTo.length) result.relayedTo = relayTo.map((m) => opts.connections[m]!.host.name);
          Object.assign(result, {
            bytesSent: sent.bytesSent,
            bytesReceived: sent.bytesReceived,
            parts: sent.parts,
            imageId: sent.imageId,
            layersSent: plan.missing.length,
            layersSkipped: plan.present.length,
          });
          report({ kind: 'bytes', host: ssh.name, sent: sent.bytesSent, bytesPerSecond: sent.bytesSent / Math.max(0.001, (Date.now() - t0) / 1000) });
        }
      }
      if (opts.recordRelease !== false) await recordRelease(ssh);
      result.ok = true;
    } catch (err) {
      result.error = err instanceof Error ? err : new Error(errorMessage(err));
    } finally {
      // Hosts waiting on this one's relay never wait forever.
      for (const m of members)
        relayed.get(m)!.resolve({ ok: false, error: `${conn.host.name} did not relay: ${result.error?.message ?? 'it had nothing to send'}` });
    }
    result.seconds = (Date.now() - started) / 1000;
    opts.onHostDone?.(result);
    return result;

    async function recordRelease(ssh: Runner): Promise<void> {
      const time = new Date().toISOString();
      // Ledger, audit log and the ledger read back for pruning: one round trip.
      const out = await ssh.run(
        sequence(`record release ${image.tag} in the ledger and the audit log`, [
          appendLedgerCommand(dir, { tag: image.tag, sha: image.sha, imageId: result.imageId ?? image.imageId, time, user: whoAmI(), bytes: result.bytesSent }),
          appendAudit(dir, {
            time,
            who: whoAmI(),
            command: 'boxship release',
            host: ssh.name,
            outcome: `released ${image.tag}`,
            detail: `${result.relayedFrom ? `${result.bytesSent} bytes relayed from ${result.relayedFrom}` : `${result.bytesSent} bytes sent`}`,
          }),
          readLedgerCommand(dir),
        ]),
      );
      const ledger = releasesNewestFirst(parseLedger(out));
      const pruned = await pruneReleases(ssh, config.service, ledger, config.releases.keep);
      result.pruned = pruned.removed;
      if (pruned.skipped) report({ kind: 'warning', host: ssh.name, message: `old releases not pruned: ${pruned.skipped}` });
      for (const k of pruned.kept) report({ kind: 'step', host: ssh.name, message: `kept old release ${k.tag.slice(0, 12)}: ${k.why}` });
    }
  };

  const hosts = await Promise.all(opts.connections.map(shipOne));
  let transfer: TransferSummary | undefined;
  if (supply) {
    await supply.done().catch(() => {});
    transfer = { codec, compressor: compressorName(codec), codecReason: why, cacheDir: cache.dir, ...supply.stats };
    // Keep the cache bounded; never a reason for a release to fail.
    await cache.prune(cacheLimits()).catch(() => {});
  }
  const full =
    supply?.stats.saveBytes ?? (supply ? (await Promise.all(diffIds.map((d) => supply!.size(d).catch(() => 0)))).reduce((a, b) => a + b, 0) : undefined);
  return { hosts, fullImageBytes: full, transfer };
}

/** A host a relay head forwards to, as the head reaches it (its relay_address) under the key the deployer checked. */
function relayTarget(connections: ShipConnection[], m: number): RelayTarget {
  const h = connections[m]!.host;
  const a = h.relayAddress ?? { user: h.user, hostname: h.hostname, port: h.port };
  const key = connections[m]!.ssh!.hostKey()!;
  return { label: `h${m}`, dest: `${a.user}@${a.hostname}`, port: a.port, knownHostsLine: knownHostsLine(a.hostname, a.port, key) };
}

/**
 * Whether a relay head reaches its members over SSH (commands.ts relayProbe), asked once per head. With ship.relay
 * auto and two or more live hosts, the first of them (the head of any chain it is in: chains are in host order) asks
 * about all the others at once, beside the inventories, so a relay waits for one round trip less (0.4 s of a 4-host
 * first release measured here); it is an SSH session on that host, whose answer goes unused when nothing is relayed.
 */
function relayProbes(opts: ShipOptions): (head: number, members: number[]) => Promise<string> {
  const asked = new Map<number, { members: number[]; out: Promise<string> }>();
  const ask = (head: number, members: number[]): Promise<string> => {
    const known = asked.get(head);
    if (known && members.every((m) => known.members.includes(m))) return known.out;
    const targets = members.map((m) => relayTarget(opts.connections, m));
    const out = opts.connections[head]!.ssh!.run(relayProbe(targets)).catch((e: Error) => members.map((m) => `fail h${m} ${e.message}`).join('\n'));
    asked.set(head, { members, out });
    return out;
  };
  const live = opts.connections.flatMap((c, k) => (c.ssh && !c.ssh.dryRun && c.ssh.hostKey() ? [k] : []));
  if (opts.config.ship.relay === 'auto' && live.length >= 2) void ask(live[0]!, live.slice(1));
  return ask;
}

/**
 * Ships an image that is not a release (the proxy's, an accessory's) from the local engine to one host: the same
 * layer-thin transfer as a release (only the layers the host lacks), tagged with its own reference there, not
 * recorded in the release ledger and never pruned with releases.
 */
export async function shipSupportImage(o: {
  config: Config;
  docker: Docker;
  ref: string;
  imageId: string;
  ssh: Runner;
  report: Report;
}): Promise<HostShipResult> {
  const { hosts } = await shipImage({
    config: o.config,
    docker: o.docker,
    image: { imageId: o.imageId, ref: o.ref, tag: o.ref, sha: '' },
    connections: [{ host: o.ssh.config, ssh: o.ssh }],
    report: o.report,
    recordRelease: false,
  });
  const r = hosts[0]!;
  if (!r.ok) throw r.error ?? new HostError(o.ssh.name, `could not ship ${o.ref}`);
  return r;
}
