/**
 * `deploy`: release, then roll out exactly the release just built (by its tag, never whatever is newest), on the
 * backend the config chose. If the release does not reach every host, nothing is rolled out.
 */
import type { Backend, BackendEnv, DeployResult, ReleaseTargets } from '../backend/types.js';
import type { Config } from '../config/types.js';
import { ExitCode } from '../util/errors.js';
import { type ReleaseProgress, type ReleaseRequest, type ReleaseResult, releaseExitCode, runRelease } from './run.js';

export interface DeployAllRequest extends ReleaseRequest {
  canary?: number;
  parallelHosts?: boolean;
  wait?: boolean;
}

export interface DeployAllResult {
  targets: ReleaseTargets;
  released: ReleaseResult;
  /** The release's tag (without the service). */
  tag: string;
  /** Absent when the release did not reach every host (then nothing was rolled out). */
  rollout?: DeployResult;
  exitCode: number;
}

export async function releaseAndRollout(
  backend: Backend,
  config: Config,
  req: DeployAllRequest,
  env: BackendEnv,
  view: (hosts: string[]) => ReleaseProgress,
): Promise<DeployAllResult> {
  const targets = await backend.releaseTargets();
  const released = await runRelease(config, targets.hosts, req, env, view(targets.hosts.map((h) => h.name)));
  const tag = released.built.tag.slice(config.service.length + 1);
  if (released.failed.length) return { targets, released, tag, exitCode: releaseExitCode(released) };
  const rollout = await backend.deploy({ kind: 'rollout', wanted: tag, canary: req.canary, parallelHosts: req.parallelHosts, wait: req.wait });
  return { targets, released, tag, rollout, exitCode: Math.max(rollout.exitCode, targets.exitCode, ExitCode.ok) };
}
