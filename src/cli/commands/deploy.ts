/** `boxship deploy`: release then rollout in one command; exits with rollout's codes. */
import type { Command } from 'commander';
import { pickRelease } from '../../fleet/releases.js';
import { BoxshipError, ExitCode, errorMessage } from '../../util/errors.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { type HookRun, rolloutWithHooks } from '../hooks.js';
import { printJson } from '../json-output.js';
import { printReleaseProblems, releaseExitCode, releaseJson, runRelease, type ReleaseJson } from '../release-run.js';
import { positiveInt } from './rollout.js';
import { prepareSwarmRelease, printCatchUpProblems, swarmDeploy } from '../swarm.js';

interface DeployOptions {
  canary?: number;
  parallel?: boolean;
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
  const config = configFrom(globals);
  let hosts = config.hosts;
  let catchUp = 0;
  if (config.swarm) {
    const prepared = await prepareSwarmRelease(config, globals);
    hosts = prepared.hosts;
    catchUp = printCatchUpProblems(prepared.catchUp);
  }
  const released = await runRelease(config, hosts, opts, globals);
  printReleaseProblems(released);
  const tag = released.built.tag.slice(config.service.length + 1);
  if (released.failed.length) {
    process.stderr.write(
      `\nNot rolled out: ${released.failed.length} of ${hosts.length} hosts lack ${tag.slice(0, 12)}. Nothing serving was changed.\nhint: fix the host(s), then run: boxship deploy\n`,
    );
    const code = releaseExitCode(released);
    if (opts.json) printJson({ release: releaseJson(released), exitCode: code } satisfies DeployJson);
    return code;
  }
  let hooks: HookRun[] = [];
  const report = (exitCode: number, error?: string) => {
    if (opts.json)
      printJson({
        release: releaseJson(released),
        ...(hooks.length ? { hooks } : {}),
        rollout: {
          target: tag,
          ...(opts.canary !== undefined ? { canary: opts.canary } : {}),
          exitCode,
          ok: exitCode === ExitCode.ok,
          ...(error ? { error } : {}),
        },
        exitCode,
      } satisfies DeployJson);
  };
  let code: number;
  try {
    if (config.swarm) {
      code = Math.max((await swarmDeploy(globals, config, { kind: 'rollout', wanted: tag, canary: opts.canary })).code, catchUp);
      report(code);
      return code;
    }
    ({ code, hooks } = await rolloutWithHooks(globals, config, {
      canary: opts.canary,
      parallelHosts: Boolean(opts.parallel),
      // The release just built, by its exact tag: never whatever happens to be newest.
      pick: (releases, ctx) =>
        pickRelease(
          releases,
          tag,
          ctx.hosts.map((h) => h.name),
        ),
    }));
  } catch (err) {
    // A lock held, a host gone between release and rollout: still one JSON document, then the usual error and hint.
    report(err instanceof BoxshipError ? err.exitCode : ExitCode.failed, errorMessage(err));
    throw err;
  }
  report(code);
  return code;
}
