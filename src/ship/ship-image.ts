/**
 * Ships a built image to every host in parallel: ask each host once what it has (platform, engine, store, images,
 * layers), refuse an image built for another platform before sending anything, and send each host only the layers
 * it lacks, in the one archive format every engine loads (archive.ts), in parts that load while the rest is on the
 * wire (wire.ts); then check, tag, record it in the ledger and prune old releases.
 *
 * Each layer is compressed once, not once per host: its compressed form comes from the deployer's layer cache
 * (cache.ts) or from the one streamed `docker save` that compresses it into that cache (layer-supply.ts), and every
 * host that lacks it gets those bytes. A code-only change compresses only its new layer.
 *
 * This module is the orchestration only: the plans are plan-hosts.ts, the relays relay.ts, one host's send
 * ship-host.ts. Where the image comes from is an ImageSource (deployer.ts: the local engine, or a stand-in in a unit test).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { stateDir } from '../state/paths.js';
import { debug } from '../util/debug.js';
import { HostError } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { shortDigest } from '../util/short.js';
import { type Codec, cacheLimits } from './cache.js';
import { engineImages, type ImageSource, usableCache } from './deployer.js';
import { inventory } from './commands.js';
import { compressorName, zstdAvailable } from './compress.js';
import { parseInventory } from './inventory.js';
import { type LayerSupply, layerSupply } from './layer-supply.js';
import { planLayers } from './layers.js';
import { chooseCodec, relayCandidates, type ShipConnection } from './plan-hosts.js';
import { relayProbes, relays } from './relay.js';
import { type HostShipResult, type ImageToShip, type ShipRun, shipHost } from './ship-host.js';
import type { SupplyStats } from './supply-state.js';

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

export function shipImage(opts: ShipOptions): Promise<ShipSummary> {
  const { docker, ...rest } = opts;
  return shipImageFrom(engineImages(docker), rest);
}

/** shipImage with the image taken from `images` instead of the local engine (the seam unit tests use). */
export async function shipImageFrom(images: ImageSource, opts: Omit<ShipOptions, 'docker'>): Promise<ShipSummary> {
  const { config, image, report, connections } = opts;
  const cache = await usableCache(report);
  const started = Date.now();
  const { diffIds, platform } = await images.inspect(image.imageId);

  // A save is certain when the cache lacks the image config (a new build): start it now, beside the inventories.
  const live = connections.some((c) => c.ssh && !c.ssh.dryRun);
  let firstSave: Promise<Readable> | undefined;
  if (live && !(await cache.lookup('config', image.imageId))) {
    firstSave = images.save(image.imageId);
    firstSave.catch(() => {});
  }
  const probe = relayProbes(connections, config.ship.relay, config.ship.relayAgent);
  // Every host's inventory, in parallel; the codec and what to compress follow from all of them.
  const inventories = connections.map((conn) => {
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
        source: images,
        imageId: image.imageId,
        diffIds,
        codec,
        cache,
        firstSave,
        onCorrupt: (d) =>
          report({ kind: 'warning', message: `layer cache entry ${shortDigest(d)} in ${cache.dir} was corrupt (wrong digest): removed, compressing it again` }),
      });
      supply.done().catch(() => {});
      supply.need(plans.flatMap((p, k) => (p && !connections[k]!.ssh?.dryRun ? p.missing.map((i) => diffIds[i]!) : [])));
    }
    return supply;
  };
  if (live) getSupply();

  const candidates = relayCandidates(
    config.ship.relay,
    { ref: image.ref, platform },
    connections.map((c, k) => {
      const r = settled[k]!;
      return {
        reachable: !!c.ssh && !c.ssh.dryRun && !!c.ssh.hostKey(),
        missing: plans[k]?.missing,
        platform: r.status === 'fulfilled' ? r.value.platform : undefined,
      };
    }),
  );
  const run: ShipRun = {
    ...opts,
    dir: stateDir(config.service),
    started,
    codec,
    diffIds,
    platform,
    inventories,
    plans,
    supply: getSupply,
    relays: relays({
      connections,
      candidates,
      missingOf: (head) => plans[head]!.missing,
      size: (i) => getSupply().size(diffIds[i]!),
      probe,
      report,
      relayAgent: config.ship.relayAgent,
    }),
  };

  const hosts = await Promise.all(connections.map((conn, k) => shipHost(run, conn, k)));
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
