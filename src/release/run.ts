/**
 * `release` (and the first half of `deploy`): the pre_release hook, the build of the current commit, the
 * connections, and the ship of the image to the hosts (missing layers only). Progress goes through ReleaseProgress,
 * which the CLI draws as one view (a task per phase, a line per host); the result says what happened.
 */
import type { BackendEnv, HookRun } from '../backend/types.js';
import type { Config, HostConfig } from '../config/types.js';
import { preReleaseHook } from '../hooks/around.js';
import { type Fleet, openFleet } from '../hosts/fleet.js';
import type { buildRelease as BuildRelease } from '../image/build.js';
import type { HostShipResult } from '../ship/ship-host.js';
import { type ShipSummary, shipImage } from '../ship/ship-image.js';
import { BoxshipError, ExitCode } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { shortDigest } from '../util/short.js';

export interface ReleaseRequest {
  allowDirty?: boolean;
  allowUnpinned?: boolean;
}

type Built = Awaited<ReturnType<typeof BuildRelease>>;

export interface ReleaseResult {
  built: Built;
  summary: ShipSummary;
  failed: HostShipResult[];
  warnings: string[];
  hooks?: HookRun[];
}

/** How the phases of a release are shown: each runs inside its phase; each host's result is told as it is known. */
export interface ReleaseProgress {
  phase<T>(name: 'build' | 'connect' | 'ship', work: (report: Report) => Promise<T>, doneTitle: (r: T) => string): Promise<T>;
  hostDone(result: HostShipResult): void;
}

export async function runRelease(config: Config, hosts: HostConfig[], req: ReleaseRequest, env: BackendEnv, progress: ReleaseProgress): Promise<ReleaseResult> {
  // hooks.pre_release first: a failure means nothing is built or shipped.
  const hook = await preReleaseHook(config, env.hookIo);
  const docker = await env.docker();
  const { buildRelease } = await import('../image/build.js');
  const warnings: string[] = [];
  const collect =
    (report: Report): Report =>
    (e) => {
      if (e.kind === 'warning') warnings.push('host' in e && e.host ? `${e.host}: ${e.message}` : e.message);
      report(e);
    };
  const built = await progress.phase(
    'build',
    (report) => buildRelease({ config, allowDirty: Boolean(req.allowDirty), allowUnpinned: Boolean(req.allowUnpinned), report: collect(report) }),
    (b) => `Built ${b.tag} (${shortDigest(b.imageId)})`,
  );
  let fleet: Fleet | undefined;
  try {
    fleet = await progress.phase(
      'connect',
      () => openFleet(hosts, { acceptNewHostKeys: env.acceptNewHostKeys }),
      (f) => (f.unreachable.length ? `Connected to ${f.hosts.length} of ${hosts.length} hosts` : `Connected to ${hosts.length} hosts`),
    );
    const connections = fleet.connections;
    const summary = await progress.phase(
      'ship',
      (report) =>
        shipImage({
          config,
          docker,
          image: { imageId: built.imageId, ref: built.tag, tag: built.tag.slice(config.service.length + 1), sha: built.sha },
          connections,
          report: collect(report),
          onHostDone: (r) => progress.hostDone(r),
        }),
      () => `Shipped ${built.tag}`,
    );
    return { built, summary, failed: summary.hosts.filter((h) => !h.ok), warnings, ...(hook ? { hooks: [hook] } : {}) };
  } finally {
    fleet?.close();
  }
}

/** 1 when a host failed; 2 when a host refused for a reason the user must fix first (an image for another platform). */
export function releaseExitCode(r: ReleaseResult): number {
  const codes = r.failed.map((f) => (f.error instanceof BoxshipError ? f.error.exitCode : ExitCode.failed));
  return codes.length ? (codes.includes(ExitCode.needsAction) ? ExitCode.needsAction : ExitCode.failed) : ExitCode.ok;
}
