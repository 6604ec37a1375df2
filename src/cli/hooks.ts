/**
 * Running hooks from the commands: pre_release before a build (release, deploy), pre_rollout before any instance
 * moves and post_rollout after a complete rollout (rollout, deploy). Each shows its output and its exit code; a
 * failed pre_* hook is an error (exit 1) and nothing has changed.
 */
import type { Config } from '../config/types.js';
import { type HookName, type HookResult, runContainerHook, runLocalHook } from '../hooks/run.js';
import { ensureAccessories } from '../accessories/run.js';
import { withLock } from '../fleet/lock.js';
import { ensureHost } from '../rollout/setup.js';
import { type FleetReleases, fleetReleases } from '../fleet/releases.js';
import type { DeployContext } from '../fleet/context.js';
import { toShell } from '../hosts/command.js';
import { BoxshipError, ExitCode } from '../util/errors.js';
import { localDocker, type GlobalOptions } from './context.js';
import { withSession } from './fleet-session.js';

export interface HookRun {
  name: HookName;
  host?: string;
  exitCode: number;
}

const io = { stdout: process.stdout, stderr: process.stderr };

function header(name: HookName, argv: string[], where: string): void {
  process.stderr.write(`\n── hook ${name} (${where}): ${argv.length === 3 && argv[0] === 'sh' && argv[1] === '-c' ? argv[2] : toShell(argv)}\n`);
}

function footer(name: HookName, r: HookResult): void {
  process.stderr.write(`── hook ${name}: ${r.code === 0 ? 'exit 0' : `FAILED, exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`}\n\n`);
}

class HookFailed extends BoxshipError {
  constructor(
    readonly run: HookRun,
    consequence: string,
    hint: string,
  ) {
    super(`the ${run.name} hook failed with exit code ${run.exitCode}${run.host ? ` on ${run.host}` : ''}; ${consequence}`, {
      hint,
      exitCode: ExitCode.failed,
    });
  }
}

/** pre_release, if configured: throws HookFailed (nothing built) when it fails. */
export async function preReleaseHook(config: Config): Promise<HookRun | undefined> {
  const argv = config.hooks?.preRelease;
  if (!argv) return undefined;
  header('pre_release', argv, `here, in ${config.dir}`);
  const r = await runLocalHook(argv, config.dir, io);
  footer('pre_release', r);
  const run: HookRun = { name: 'pre_release', exitCode: r.code };
  if (r.code !== 0) throw new HookFailed(run, 'nothing was built or shipped', 'fix what it reports, then run the command again');
  return run;
}

/**
 * pre_rollout or post_rollout, if configured, in a one-off container of the release `pick` chooses, on the first host,
 * under the deploy lock. The pre hook prepares that host first (env file, network), as setup does, so that a first
 * deploy can migrate; nothing that serves changes. Returns the run, or undefined when no such hook is configured.
 */
async function rolloutHook(
  globals: GlobalOptions,
  config: Config,
  name: 'pre_rollout' | 'post_rollout',
  pick: (releases: FleetReleases, ctx: DeployContext) => string,
): Promise<HookRun | undefined> {
  const argv = name === 'pre_rollout' ? config.hooks?.preRollout : config.hooks?.postRollout;
  if (!argv) return undefined;
  const docker = name === 'pre_rollout' ? await localDocker() : undefined;
  return withSession(globals, async ({ ctx }) =>
    withLock(
      ctx,
      async () => {
        const tag = pick(await fleetReleases(ctx), ctx);
        const first = ctx.hosts[0]!;
        if (docker) {
          await ensureHost(ctx, first, docker);
          // A migration needs the database: the host's missing accessories are started first.
          for (const r of await ensureAccessories(ctx, first, docker)) {
            if (r.action !== 'unchanged') process.stderr.write(`accessory ${r.accessory} ${r.action} on ${r.host}\n`);
          }
        }
        header(name, argv, `${config.service}:${tag.slice(0, 12)} on ${first.name}`);
        const r = await runContainerHook(first, config, name, tag, argv, io);
        footer(name, r);
        return { name, host: first.name, exitCode: r.code } satisfies HookRun;
      },
      (r) => (r.exitCode === 0 ? `${name} hook done` : { outcome: `${name} hook failed`, detail: `exit ${r.exitCode}` }),
    ),
  );
}

export interface HookedRollout {
  canary?: number;
  plan?: boolean;
  parallelHosts?: boolean;
  /** The release to roll out, from what the hosts have (as rollout's chooseTarget, without the fleet). */
  pick(releases: FleetReleases, ctx: DeployContext): string;
}

/**
 * `deploy()` of a rollout with the pre_rollout and post_rollout hooks around it. The pre hook picks the release; the
 * rollout is then pinned to that exact tag, so the hook and the instances always run the same release.
 */
export async function rolloutWithHooks(globals: GlobalOptions, config: Config, req: HookedRollout): Promise<{ code: number; hooks: HookRun[] }> {
  const { deploy } = await import('./deploy.js');
  const { pickRelease } = await import('../fleet/releases.js');
  const hooks: HookRun[] = [];
  const hosts = (ctx: DeployContext) => ctx.hosts.map((h) => h.name);
  if (req.plan || !(config.hooks?.preRollout || config.hooks?.postRollout)) {
    const code = await deploy(globals, {
      kind: 'rollout',
      canary: req.canary,
      plan: req.plan,
      parallelHosts: req.parallelHosts,
      chooseTarget: (releases, _fleet, ctx) => req.pick(releases, ctx),
    });
    return { code, hooks };
  }
  let tag: string | undefined;
  const pinned = (releases: FleetReleases, ctx: DeployContext) => (tag = tag === undefined ? req.pick(releases, ctx) : pickRelease(releases, tag, hosts(ctx)));
  const pre = await rolloutHook(globals, config, 'pre_rollout', pinned);
  if (pre) {
    hooks.push(pre);
    if (pre.exitCode !== 0) {
      const err = new HookFailed(
        pre,
        `nothing was rolled out and nothing serving changed`,
        `fix the hook or the release, then run: boxship ${req.canary !== undefined ? `rollout --canary ${req.canary}` : 'rollout'} (the release is shipped already)`,
      );
      process.stderr.write(`\nerror: ${err.message}\nhint: ${err.hint}\n`);
      return { code: ExitCode.failed, hooks };
    }
  }
  const code = await deploy(globals, {
    kind: 'rollout',
    canary: req.canary,
    parallelHosts: req.parallelHosts,
    chooseTarget: (releases, _fleet, ctx) => pinned(releases, ctx),
  });
  // After a complete rollout only: a canary step is not one (the promoting rollout runs it).
  if (code !== ExitCode.ok || req.canary !== undefined) return { code, hooks };
  const post = await rolloutHook(globals, config, 'post_rollout', pinned);
  if (post) {
    hooks.push(post);
    if (post.exitCode !== 0) {
      const err = new HookFailed(post, `the release is serving on every instance`, 'look at its output above; to undo the rollout, run: boxship rollback');
      process.stderr.write(`\nerror: ${err.message}\nhint: ${err.hint}\n`);
      return { code: ExitCode.failed, hooks };
    }
  }
  return { code, hooks };
}
