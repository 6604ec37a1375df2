/**
 * The hooks around a release and a rollout: pre_release here before a build; pre_rollout before any instance moves
 * and post_rollout after a complete rollout, in one-off containers of the release on the first host, under the
 * deploy lock the rollout holds (the lock is re-entrant: one lock for hook, rollout, hook). Each streams its output
 * to the io it is given, with a header and a footer line; a failed pre_* hook means nothing changed.
 * In a plan the container hooks are recorded (what would run, and where), not run.
 */
import type Docker from 'dockerode';
import type { HookRun } from '../backend/types.js';
import { ensureAccessories } from '../accessories/run.js';
import { hostsServing } from '../config/accessory-reach.js';
import type { Config } from '../config/types.js';
import type { DeployContext } from '../fleet/context.js';
import { toShell } from '../hosts/command.js';
import type { StreamIo } from '../hosts/runner.js';
import { ensureHost } from '../rollout/setup.js';
import { BoxshipError, ExitCode } from '../util/errors.js';
import { type HookName, type HookResult, runContainerHook, runLocalHook } from './run.js';
import { shortSha } from '../util/short.js';

function shown(argv: string[]): string {
  return argv.length === 3 && argv[0] === 'sh' && argv[1] === '-c' ? argv[2]! : toShell(argv);
}

function header(io: StreamIo, name: HookName, argv: string[], where: string): void {
  io.stderr.write(`\n── hook ${name} (${where}): ${shown(argv)}\n`);
}

function footer(io: StreamIo, name: HookName, r: HookResult): void {
  io.stderr.write(`── hook ${name}: ${r.code === 0 ? 'exit 0' : `FAILED, exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`}\n\n`);
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
export async function preReleaseHook(config: Config, io: StreamIo): Promise<HookRun | undefined> {
  const hooks = config.hooks;
  if (!hooks?.preRelease) return undefined;
  const argv = hooks.preRelease;
  header(io, 'pre_release', argv, `here, in ${config.dir}`);
  const r = await runLocalHook(argv, config.dir, io, hooks.timeoutSeconds);
  footer(io, 'pre_release', r);
  const run: HookRun = { name: 'pre_release', exitCode: r.code };
  if (r.code !== 0) throw new HookFailed(run, 'nothing was built or shipped', 'fix what it reports, then run the command again');
  return run;
}

/**
 * pre_rollout or post_rollout, if configured, in a one-off container of `tag` on the first host; the caller holds
 * the lock. The pre hook prepares that host first (env file, network, missing accessories), as setup does, so that
 * a first deploy can migrate; nothing that serves changes. Returns undefined when no such hook is configured.
 */
export async function rolloutHook(
  ctx: DeployContext,
  name: 'pre_rollout' | 'post_rollout',
  tag: string,
  io: StreamIo,
  docker: Docker,
): Promise<HookRun | undefined> {
  const { config } = ctx;
  const hooks = config.hooks;
  const argv = name === 'pre_rollout' ? hooks?.preRollout : hooks?.postRollout;
  if (!hooks || !argv) return undefined;
  const first = ctx.hosts[0]!;
  if (name === 'pre_rollout') {
    // A migration needs the database: the missing accessories it reaches are started first, those of its host and
    // those other hosts serve it (an accessory the first host does not run).
    const serving = hostsServing(config, first.name);
    for (const ssh of [first, ...ctx.hosts.filter((h) => h !== first && serving.includes(h.name))]) {
      await ensureHost(ctx, ssh, docker);
      for (const r of await ensureAccessories(ctx, ssh, docker)) {
        if (r.action !== 'unchanged') ctx.report({ kind: 'step', host: r.host, message: `accessory ${r.accessory} ${r.action}` });
      }
    }
  }
  if (first.dryRun) {
    first.note(`run the ${name} hook in a one-off container of ${config.service}:${shortSha(tag)}: ${shown(argv)}`);
    return { name, host: first.name, exitCode: 0 };
  }
  header(io, name, argv, `${config.service}:${shortSha(tag)} on ${first.name}`);
  const r = await runContainerHook(first, config, { name, tag, argv, timeoutSeconds: hooks.timeoutSeconds }, io);
  footer(io, name, r);
  return { name, host: first.name, exitCode: r.code };
}
