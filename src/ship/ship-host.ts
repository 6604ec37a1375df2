/**
 * One host's part of shipping an image (ship-image.ts runs one per host, in parallel): tag the image when the host
 * has it already, else take it from a relay head or get a direct send (forwarding it to this host's own chain), then
 * record the release in the host's ledger and prune old releases. What to do is planned in plan-hosts.ts; how relays
 * wait on each other is relay.ts.
 */
import type { Config } from '../config/types.js';
import { sequence } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { appendAudit } from '../state/audit.js';
import { appendLedgerCommand, parseLedger, readLedgerCommand, releasesNewestFirst, whoAmI } from '../state/ledger.js';
import { errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { shortSha } from '../util/short.js';
import { expectedImageId, thinArchive } from './archive.js';
import type { Codec } from './cache.js';
import { listedImageId, tagImage } from './commands.js';
import type { HostInventory } from './inventory.js';
import type { LayerSupply } from './layer-supply.js';
import type { LayerPlan } from './layers.js';
import { relayTarget, relayVerdict, type ShipConnection } from './plan-hosts.js';
import { checkPlatform, type ImagePlatform } from './platform.js';
import { pruneReleases } from './prune.js';
import type { Relays } from './relay.js';
import { incomingName, type RelayOutcome, sendImage } from './transfer.js';

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

/** What every host's send shares: the image, what each host said, the supply and the relays. */
export interface ShipRun {
  config: Config;
  image: ImageToShip;
  connections: ShipConnection[];
  report: Report;
  onHostDone?: (r: HostShipResult) => void;
  recordRelease?: boolean;
  /** The service's state dir on the hosts. */
  dir: string;
  started: number;
  codec: Codec;
  diffIds: string[];
  platform: ImagePlatform;
  inventories: Promise<HostInventory>[];
  plans: (LayerPlan | undefined)[];
  supply(): LayerSupply;
  relays: Relays;
}

export async function shipHost(run: ShipRun, conn: ShipConnection, k: number): Promise<HostShipResult> {
  const { config, image, report, relays, codec, diffIds, platform } = run;
  const result: HostShipResult = { host: conn.host.name, ok: false, bytesSent: 0, bytesReceived: 0, layersSent: 0, layersSkipped: 0, seconds: 0, pruned: [] };
  const members = relays.membersOf(k);
  const hostName = (m: number) => run.connections[m]!.host.name;
  try {
    if (!conn.ssh) throw conn.error;
    const ssh = conn.ssh;
    const inv = await run.inventories[k]!;
    const plan = run.plans[k]!;
    result.store = inv.store;
    checkPlatform(ssh.name, image.ref, platform, inv.platform);
    const supply = run.supply();
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
      let head = relays.headOf(k);
      if (head !== undefined && !(await relays.decide(head)).includes(k)) {
        if (relays.probeFailed(k) !== undefined) result.relayFailed = relays.probeFailed(k);
        head = undefined;
      }
      let done = false;
      if (head !== undefined) {
        const headName = hostName(head);
        report({ kind: 'step', host: ssh.name, message: `receiving ${plan.missing.length} of ${diffIds.length} layers from ${headName} (relay)` });
        const o = await relays.outcome(k);
        const verdict = await confirmRelayed(ssh, image.ref, relayVerdict(o, inv.store), headName);
        if (verdict.ok) {
          Object.assign(result, {
            bytesSent: o.bytesSent ?? 0,
            bytesReceived: o.bytesReceived ?? 0,
            parts: o.parts,
            imageId: verdict.imageId,
            relayedFrom: headName,
            layersSent: plan.missing.length,
            layersSkipped: plan.present.length,
          });
          done = true;
        } else {
          report({
            kind: 'warning',
            host: ssh.name,
            message: `relay from ${headName} failed (${verdict.why}): sending directly (a relay needs ${headName} to reach this host at its relay_address, with an SSH key that this host accepts, or the deployer's agent with ship.relay_agent: forward)`,
          });
          result.relayFailed = verdict.why;
        }
      }
      if (ssh.dryRun) {
        ssh.note(`send ${plan.missing.length} of ${diffIds.length} layers of ${image.ref} (${codec}), check, load and tag them`);
      } else if (!done) {
        let last = 0;
        const t0 = Date.now();
        const relayTo = members.length ? await relays.decide(k) : [];
        const targets = relayTo.map((m) => relayTarget(run.connections, m));
        const relayNote = targets.length ? `, relaying to ${relayTo.map(hostName).join(', ')}` : '';
        if (targets.length) report({ kind: 'step', host: ssh.name, message: `sending ${plan.missing.length} of ${diffIds.length} layers${relayNote}` });
        let sent: Awaited<ReturnType<typeof sendImage>>;
        try {
          sent = await sendImage(ssh, supply, {
            stateDir: run.dir,
            tag: image.ref,
            name,
            missing: plan.missing,
            platform,
            store: inv.store,
            relay: targets,
            relayAgent: config.ship.relayAgent,
            onBytes: (n) => {
              const now = Date.now();
              if (now - last < 250) return;
              last = now;
              const bytesPerSecond = n / Math.max(0.001, (now - t0) / 1000);
              report({ kind: 'bytes', host: ssh.name, sent: n, bytesPerSecond });
              // The relayed hosts get the same bytes as they pass through this one.
              for (const m of relayTo) report({ kind: 'bytes', host: hostName(m), sent: n, bytesPerSecond });
            },
          });
        } catch (err) {
          const r = (err as { relayed?: Map<string, RelayOutcome> }).relayed;
          if (r) for (const [j, m] of relayTo.entries()) relays.settle(m, r.get(targets[j]!.label) ?? { ok: false, error: (err as Error).message });
          throw err;
        }
        for (const [j, m] of relayTo.entries()) relays.settle(m, sent.relayed.get(targets[j]!.label)!);
        if (relayTo.length) result.relayedTo = relayTo.map(hostName);
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
    if (run.recordRelease !== false) await recordRelease(run, ssh, result);
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(errorMessage(err));
  } finally {
    // Hosts waiting on this one's relay never wait forever.
    for (const m of members) relays.settle(m, { ok: false, error: `${conn.host.name} did not relay: ${result.error?.message ?? 'it had nothing to send'}` });
  }
  result.seconds = (Date.now() - run.started) / 1000;
  run.onHostDone?.(result);
  return result;
}

/**
 * A relayed host's result came through its head (the hop's output is the head's to print): only when this host,
 * asked over boxship's own connection, lists the image under the ID the relay reported is the relay taken as done.
 */
async function confirmRelayed(ssh: Runner, ref: string, verdict: ReturnType<typeof relayVerdict>, headName: string): Promise<ReturnType<typeof relayVerdict>> {
  if (!verdict.ok) return verdict;
  const r = await ssh.exec(listedImageId(ref), { allowFailure: true });
  const shown = r.code === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
  if (shown.includes(verdict.imageId)) return verdict;
  return { ok: false, why: `${headName} reported it loaded, but this host lists ${shown.join(', ') || 'no image'} for ${ref}` };
}

async function recordRelease(run: ShipRun, ssh: Runner, result: HostShipResult): Promise<void> {
  const { config, image, dir, report } = run;
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
  for (const kept of pruned.kept) report({ kind: 'step', host: ssh.name, message: `kept old release ${shortSha(kept.tag)}: ${kept.why}` });
}
