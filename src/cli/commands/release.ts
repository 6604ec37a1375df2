/**
 * `boxship release`: build the current commit, ship it to every host (only missing layers, compressed, in parallel).
 * It does not change what is serving: that is `boxship rollout`.
 */
import type { Command } from 'commander';
import { selectHosts } from '../../hosts/fleet.js';
import { releaseExitCode, runRelease } from '../../release/run.js';
import type { GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { printReleaseProblems, releaseJson, releaseView } from '../render/release.js';
import { renderTargets } from '../render/results.js';
import { withBackend } from '../session.js';

interface ReleaseOptions {
  allowDirty?: boolean;
  allowUnpinned?: boolean;
  host?: string[];
  json?: boolean;
}

export function registerRelease(program: Command): void {
  program
    .command('release')
    .description('build the current git commit as <service>:<sha> and ship it to every host (missing layers only)')
    .option('--allow-dirty', 'build uncommitted changes; the tag becomes <sha>-dirty-<hash of the changes>')
    .option('--allow-unpinned', 'build even if a base image or dependency is not pinned (prints a warning)')
    .option('--host <host...>', 'ship only to these hosts (address as in boxship.yml, or hostname)')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship release
  $ boxship release --host 10.0.0.5          ship to one host only
  $ boxship release --allow-dirty            try out uncommitted changes
  $ boxship release --json | jq .tag         only JSON on stdout (progress goes to stderr)

A host that cannot be reached is reported and the others still get the image (exit code 1).
Running release again finishes a transfer that was cut: hosts that have the image get only a tag.`,
    )
    .action(async (opts: ReleaseOptions, cmd: Command) => {
      const code = await release(opts, cmd.optsWithGlobals<GlobalOptions>());
      process.exitCode = code;
    });
}

async function release(opts: ReleaseOptions, globals: GlobalOptions): Promise<number> {
  return withBackend(globals, async ({ config, env, backend }) => {
    // Swarm: the node check first (a mismatch stops here), then only the nodes that may run a task get the release.
    const targets = await backend.releaseTargets(opts.host ? selectHosts(config, opts.host) : undefined);
    renderTargets(targets);
    const r = await runRelease(
      config,
      targets.hosts,
      opts,
      env,
      releaseView(
        config.service,
        targets.hosts.map((h) => h.name),
      ),
    );
    if (opts.json) printJson(releaseJson(r));
    printReleaseProblems(r);
    const okHosts = r.summary.hosts.filter((h) => h.ok).length;
    if (!opts.json) {
      // The files the commit does not pin, so that what went into the image besides the commit is on the record.
      for (const f of r.built.included) process.stdout.write(`included from outside git (build.include): ${f.path} sha256:${f.sha256}\n`);
      process.stdout.write(
        `\nReleased ${r.built.tag} to ${okHosts} of ${r.summary.hosts.length} hosts. It is not serving yet: run \`boxship rollout\` to put it into service.\n`,
      );
      if (r.failed.length)
        process.stdout.write(`To finish the failed hosts once they are fixed, run: boxship release${r.failed.map((f) => ` --host ${f.host}`).join('')}\n`);
    }
    return Math.max(releaseExitCode(r), targets.exitCode);
  });
}
