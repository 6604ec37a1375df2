/**
 * Shipping for the Swarm backend is the per-host shipping (src/ship), aimed at the right nodes: every node that may
 * run a task of the service (session.targets) gets each release layer-thin over SSH, so Swarm never meets a node
 * without the image ("No such image" would reject the task). A node added to the swarm later gets the serving and
 * previous releases (rollback's target) on the next `release` or `setup`, from this machine's engine.
 */
import type Docker from 'dockerode';
import type { HostConfig } from '../config/types.js';
import { parsePresent, presentImages } from '../ship/commands.js';
import { shipImage } from '../ship/ship-image.js';
import { appendLedgerCommand, readLedger, releasesNewestFirst, type LedgerEntry } from '../state/ledger.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { stateDir } from '../state/paths.js';
import { errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import type { Member, SwarmSession } from './session.js';

/** The hosts `release` ships to: the nodes that may run a task, plus unreachable hosts (reported as failed there). */
export function releaseHosts(session: SwarmSession, selected?: HostConfig[]): HostConfig[] {
  const want = new Set((selected ?? session.config.hosts).map((h) => h.name));
  const names = new Set([...session.targets.map((m) => m.ssh.name), ...session.unreachable.map((u) => u.host)]);
  return session.config.hosts.filter((h) => names.has(h.name) && want.has(h.name));
}

/** Hosts that are nodes but get no release: their node does not match the placement constraints (or is down). */
export function skippedMembers(session: SwarmSession): Member[] {
  const targets = new Set(session.targets.map((m) => m.node.id));
  return session.members.filter((m) => !targets.has(m.node.id));
}

export interface CatchUpResult {
  host: string;
  tag: string;
  ok: boolean;
  error?: string;
  bytesSent: number;
}

/**
 * Ships the serving and the previous release to every target node that lacks them (a node that joined the swarm
 * since), from this machine's engine. A release this machine does not have is reported, with how to fix it.
 */
export async function catchUpReleases(session: SwarmSession, docker: Docker, report: Report): Promise<CatchUpResult[]> {
  const { config, manager } = session;
  const dir = stateDir(config.service);
  const deploys = parseDeploys(await manager.run(readDeploys(dir)));
  const { current, previous } = currentAndPrevious(deploys);
  const wanted = [current, previous].filter((t): t is string => t !== undefined);
  if (wanted.length === 0 || session.targets.length === 0) return [];
  const [present, ledgers] = await Promise.all([
    Promise.all(session.targets.map((m) => m.ssh.run(presentImages(config.service)).then(parsePresent))),
    Promise.all(session.targets.map((m) => readLedger(m.ssh, dir))),
  ]);
  const entryOf = (tag: string): LedgerEntry | undefined => ledgers.flatMap((l) => releasesNewestFirst(l)).find((e) => e.tag === tag);
  const results: CatchUpResult[] = [];
  for (const tag of wanted) {
    const ref = `${config.service}:${tag}`;
    const lacking = session.targets.filter((_m, i) => !present[i]!.has(ref));
    if (lacking.length === 0) continue;
    const local = await docker
      .getImage(ref)
      .inspect()
      .catch(() => undefined);
    if (!local) {
      for (const m of lacking) {
        results.push({
          host: m.ssh.name,
          tag,
          ok: false,
          bytesSent: 0,
          error: `${m.ssh.name} (node ${m.node.hostname}) lacks ${ref} (${tag === current ? 'serving' : 'previous'} release), and this machine does not have it to ship`,
        });
      }
      continue;
    }
    const which = tag === current ? 'serving' : 'previous';
    // A plan ships nothing: the transfer is work from this machine, not a remote command to record.
    if (lacking.every((m) => m.ssh.dryRun)) {
      for (const m of lacking) {
        m.ssh.note(`ship ${ref} (${which} release, which this node lacks) from here, layer-thin, and record it in the node's ledger`);
        results.push({ host: m.ssh.name, tag, ok: true, bytesSent: 0 });
      }
      continue;
    }
    report({ kind: 'step', message: `shipping ${ref} (${which} release) to ${lacking.map((m) => m.ssh.name).join(', ')}, which lack it` });
    const summary = await shipImage({
      config,
      docker,
      image: { imageId: local.Id, ref, tag, sha: entryOf(tag)?.sha ?? tag },
      connections: lacking.map((m) => ({ host: m.ssh.config, ssh: m.ssh })),
      report,
      recordRelease: false,
    });
    for (const r of summary.hosts) {
      const ssh = lacking.find((m) => m.ssh.name === r.host)!.ssh;
      if (r.ok) {
        // The release's own ledger entry (its time, user and sha), not a new one: it is not a new release.
        const entry = entryOf(tag) ?? {
          tag,
          sha: tag,
          imageId: r.imageId ?? local.Id,
          time: new Date().toISOString(),
          user: session.ctx.who,
          bytes: r.bytesSent,
        };
        await ssh
          .run(appendLedgerCommand(dir, { ...entry, imageId: r.imageId ?? entry.imageId }))
          .catch((err: Error) => report({ kind: 'warning', host: r.host, message: `ledger: ${errorMessage(err)}` }));
      }
      results.push({ host: r.host, tag, ok: r.ok, bytesSent: r.bytesSent, ...(r.error ? { error: r.error.message } : {}) });
    }
  }
  return results;
}
