/** `boxship deploy`: release then rollout in one command; exits with rollout's codes. */
import type { Command } from 'commander';
import type { HookRun } from '../../backend/types.js';
import { releaseAndRollout } from '../../release/deploy.js';
import { BoxshipError, ExitCode, errorMessage } from '../../util/errors.js';
import type { GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { printReleaseProblems, type ReleaseJson, releaseJson, releaseView } from '../render/release.js';
import { renderDeploy, renderTargets } from '../render/results.js';
import { withBackend } from '../session.js';
import { positiveInt } from './rollout.js';
import { shortSha } from '../../util/short.js';

interface DeployOptions {
  canary?: number;
  parallel?: boolean;
  wait?: boolean;
  allowDirty?: boolean;
  allowUnpinned?: boolean;
  json?: boolean;
}

/** The documented shape of `deploy --json`. */
interface DeployJson {
  release: ReleaseJson;
  /** Absent when the release did not reach every host (then nothing was rolled out). */
  rollout?: { target: string; canary?: number; exitCode: number; ok: boolean; error?: string };
  /** The pre_rollout / post_rollout hooks that ran (pre_release is in release.hooks). */
  hooks?: HookRun[];
  exitCode: number;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('release the current commit to every host, then roll it out (release + rollout in one command)')
    .option('--canary <n>', 'move only N instances across the fleet; run rollout again to promote, rollback to abort', positiveInt)
    .option('--parallel', 'roll out on all hosts at once (each still one instance at a time)')
    .option('--wait', 'return only once the old instances have finished their requests (default: they drain on their hosts)')
    .option('--allow-dirty', 'build uncommitted changes (tag <sha>-dirty-<hash>)')
    .option('--allow-unpinned', 'build even if a base image or dependency is not pinned (prints a warning)')
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship deploy                  build, ship to every host, roll out everywhere
  $ boxship deploy --canary 1       ship, then move one instance; promote with: boxship rollout
  $ boxship deploy --json | jq .rollout.ok

If the release does not reach every host, nothing is rolled out (exit 1): fix the host and deploy again.
Exit codes are rollout's: 0 done; 1 failed and rolled back cleanly (or not shipped everywhere); 2 bad input, or
a rollback that failed too (what to do is printed). To undo a deploy, run: boxship rollback`,
    )
    .action(async (opts: DeployOptions, cmd: Command) => {
      process.exitCode = await runDeploy(opts, cmd.optsWithGlobals<GlobalOptions>());
    });
}

async function runDeploy(opts: DeployOptions, globals: GlobalOptions): Promise<number> {
  return withBackend(
    globals,
    async ({ config, env, backend }) => {
      let json: DeployJson | undefined;
      try {
        const r = await releaseAndRollout(backend, config, { ...opts, parallelHosts: Boolean(opts.parallel), wait: Boolean(opts.wait) }, env, (hosts) => {
          return releaseView(config.service, hosts);
        });
        renderTargets(r.targets);
        printReleaseProblems(r.released);
        json = { release: releaseJson(r.released), exitCode: r.exitCode };
        if (!r.rollout) {
          process.stderr.write(
            `\nNot rolled out: ${r.released.failed.length} of ${r.targets.hosts.length} hosts lack ${shortSha(r.tag)}. Nothing serving was changed.\nhint: fix the host(s), then run: boxship deploy\n`,
          );
          return r.exitCode;
        }
        renderDeploy(r.rollout);
        const hooks = r.rollout.backend === 'hosts' ? r.rollout.hooks : [];
        const error = r.rollout.backend === 'hosts' && r.rollout.hookFailure ? r.rollout.hookFailure.message : undefined;
        json = {
          ...json,
          ...(hooks.length ? { hooks } : {}),
          rollout: {
            target: r.tag,
            ...(opts.canary !== undefined ? { canary: opts.canary } : {}),
            exitCode: r.rollout.exitCode,
            ok: r.rollout.exitCode === ExitCode.ok,
            ...(error ? { error } : {}),
          },
        };
        return r.exitCode;
      } catch (err) {
        // A lock held, a host gone between release and rollout: still one JSON document, then the usual error and hint.
        if (json) {
          const exitCode = err instanceof BoxshipError ? err.exitCode : ExitCode.failed;
          json = { ...json, rollout: { target: json.release.tag.split(':').pop()!, exitCode, ok: false, error: errorMessage(err) }, exitCode };
        }
        throw err;
      } finally {
        if (opts.json && json) printJson(json);
      }
    },
    { interruptible: true },
  );
}
