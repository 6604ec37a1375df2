/**
 * Ships a built image to every host in parallel: per host, ask once what it has (platform, store, images, layers),
 * refuse an image built for another platform before sending anything, send only the missing layers (from one shared
 * `docker save`) in the one archive format every engine loads, load, check and tag, record it in the ledger, prune
 * old releases.
 */
import type Docker from 'dockerode';
import type { Config } from '../config/types.js';
import type { HostConfig } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { appendAudit } from '../state/audit.js';
import { appendLedgerCommand, readLedger, releasesNewestFirst, whoAmI } from '../state/ledger.js';
import { stateDir } from '../state/paths.js';
import { pruneReleases } from './prune.js';
import { configPlatform, expectedImageId, thinArchive } from './archive.js';
import { inventory, tagImage } from './commands.js';
import { parseInventory } from './inventory.js';
import { planLayers } from './layers.js';
import { checkPlatform } from './platform.js';
import { saveImage, type SavedImage } from './spool.js';
import { incomingName, sendImage } from './transfer.js';
import type { Report } from '../util/events.js';
import { errorMessage, HostError } from '../util/errors.js';

export interface ImageToShip {
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
  seconds: number;
  pruned: string[];
}

export interface ShipSummary {
  hosts: HostShipResult[];
  /** Uncompressed size of the full image: what a plain save|load would send to each host. */
  fullImageBytes?: number;
}

/** A host to ship to: open (a runner) or not reachable (the error says why). */
export type ShipConnection = { host: HostConfig; ssh?: Runner; error?: Error };

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

export async function shipImage(opts: ShipOptions): Promise<ShipSummary> {
  const { config, docker, image, report } = opts;
  let saved: Promise<SavedImage> | undefined;
  // The one `docker save`, started by the first host that needs bytes and shared by all.
  const spool = () => {
    if (!saved) {
      saved = saveImage(docker, image.imageId);
      saved.catch(() => {}); // awaited by each host that needs it; a failure must not surface before that
    }
    return saved;
  };
  const dir = stateDir(config.service);

  const shipOne = async (conn: ShipConnection): Promise<HostShipResult> => {
    const started = Date.now();
    const result: HostShipResult = { host: conn.host.name, ok: false, bytesSent: 0, bytesReceived: 0, layersSent: 0, layersSkipped: 0, seconds: 0, pruned: [] };
    try {
      if (!conn.ssh) throw conn.error;
      const ssh = conn.ssh;
      report({ kind: 'step', host: ssh.name, message: 'checking which layers the host has' });
      const savedImage = spool(); // starts the one `docker save` while we ask the host what it has
      const inv = parseInventory(await ssh.run(inventory()));
      const s = await savedImage;
      result.store = inv.store;
      checkPlatform(ssh.name, image.ref, configPlatform(s.config), inv.platform);
      const plan = planLayers(s.diffIds, inv.layers);
      const name = incomingName(config.service);
      const archive = thinArchive(s, plan.missing, name);
      const expectedId = expectedImageId(archive, inv.store);
      result.imageId = expectedId;
      if (inv.imageIds.has(expectedId)) {
        result.alreadyPresent = true;
        await ssh.run(tagImage(expectedId, image.ref));
        report({ kind: 'step', host: ssh.name, message: 'image already on the host: tagged, nothing sent' });
      } else {
        if (inv.contentUnavailable) {
          report({ kind: 'warning', host: ssh.name, message: `cannot list the containerd content store (${inv.contentUnavailable}): sending every layer; give the SSH user access to ctr (root or sudo -n) to ship only what is missing` });
        }
        report({ kind: 'step', host: ssh.name, message: `sending ${plan.missing.length} of ${s.diffIds.length} layers (${plan.present.length} already there, ${inv.store} image store)` });
        let last = 0;
        const t0 = Date.now();
        const sent = await sendImage(ssh, archive, s.layers, {
          stateDir: dir,
          tag: image.ref,
          name,
          expectedId,
          onBytes: (n) => {
            const now = Date.now();
            if (now - last < 250) return;
            last = now;
            report({ kind: 'bytes', host: ssh.name, sent: n, bytesPerSecond: n / Math.max(0.001, (now - t0) / 1000) });
          },
        });
        Object.assign(result, sent, { layersSent: plan.missing.length, layersSkipped: plan.present.length });
        report({ kind: 'bytes', host: ssh.name, sent: sent.bytesSent, bytesPerSecond: sent.bytesSent / Math.max(0.001, (Date.now() - t0) / 1000) });
      }
      if (opts.recordRelease !== false) await recordRelease(ssh);
      result.ok = true;
    } catch (err) {
      result.error = err instanceof Error ? err : new Error(errorMessage(err));
    }
    result.seconds = (Date.now() - started) / 1000;
    opts.onHostDone?.(result);
    return result;

    async function recordRelease(ssh: Runner): Promise<void> {
      const time = new Date().toISOString();
      await ssh.run(appendLedgerCommand(dir, { tag: image.tag, sha: image.sha, imageId: result.imageId ?? image.imageId, time, user: whoAmI(), bytes: result.bytesSent }));
      await ssh.run(appendAudit(dir, { time, who: whoAmI(), command: 'boxship release', host: ssh.name, outcome: `released ${image.tag}`, detail: `${result.bytesSent} bytes sent` }));
      const ledger = releasesNewestFirst(await readLedger(ssh, dir));
      const pruned = await pruneReleases(ssh, config.service, ledger, config.releases.keep);
      result.pruned = pruned.removed;
      if (pruned.skipped) report({ kind: 'warning', host: ssh.name, message: `old releases not pruned: ${pruned.skipped}` });
      for (const k of pruned.kept) report({ kind: 'step', host: ssh.name, message: `kept old release ${k.tag.slice(0, 12)}: ${k.why}` });
    }
  };

  try {
    const hosts = await Promise.all(opts.connections.map(shipOne));
    const full = saved ? (await saved.catch(() => undefined))?.bytes : undefined;
    return { hosts, fullImageBytes: full };
  } finally {
    if (saved) await saved.then((s) => s.remove(), () => {});
  }
}

/**
 * Ships an image that is not a release (the proxy's, an accessory's) from the local engine to one host: the same
 * layer-thin transfer as a release (only the layers the host lacks), tagged with its own reference there, not
 * recorded in the release ledger and never pruned with releases.
 */
export async function shipSupportImage(o: { config: Config; docker: Docker; ref: string; imageId: string; ssh: Runner; report: Report }): Promise<HostShipResult> {
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
