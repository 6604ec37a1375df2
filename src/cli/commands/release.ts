/**
 * `boxship release`: build the current commit, ship it to every host (only missing layers, compressed, in parallel).
 * It does not change what is serving: that is `boxship rollout`.
 */
import type { Command } from 'commander';
import { Listr } from 'listr2';
import type { buildRelease as BuildRelease } from '../../image/build.js';
import { closeAll, connectAll, selectHosts, type Connection } from '../../hosts/fleet.js';
import { type HostShipResult, type ShipSummary, shipImage } from '../../ship/release.js';
import { BoxshipError, ExitCode } from '../../util/errors.js';
import type { ProgressEvent } from '../../util/events.js';
import { redact } from '../../util/redact.js';
import { configFrom, interactive, listrOptions, localDocker, type GlobalOptions } from '../context.js';
import { bytes, rate, seconds, shortId } from '../format.js';

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

A host that cannot be reached is reported and the others still get the image (exit code 1).
Running release again finishes a transfer that was cut: hosts that have the image get only a tag.`,
    )
    .action(async (opts: ReleaseOptions, cmd: Command) => {
      const code = await runRelease(opts, cmd.optsWithGlobals<GlobalOptions>());
      process.exitCode = code;
    });
}

async function runRelease(opts: ReleaseOptions, globals: GlobalOptions): Promise<number> {
  const config = configFrom(globals);
  const hosts = selectHosts(config, opts.host);
  const docker = await localDocker();
  const { buildRelease } = await import('../../image/build.js');
  const ctx: { built?: Awaited<ReturnType<typeof BuildRelease>>; connections?: Connection[]; summary?: ShipSummary } = {};
  const hostDone = new Map<string, (r: HostShipResult) => void>();
  const hostResults = new Map(hosts.map((h) => [h.name, new Promise<HostShipResult>((resolve) => hostDone.set(h.name, resolve))]));
  const hostOutput = new Map<string, (line: string) => void>();
  const bytesEvery = interactive ? 250 : 2000;
  const lastBytes = new Map<string, number>();
  const warnings: string[] = [];

  const onEvent = (e: ProgressEvent) => {
    if (e.kind === 'warning') warnings.push(e.host ? `${e.host}: ${e.message}` : e.message);
    if (!('host' in e) || !e.host) return;
    if (e.kind === 'bytes') {
      const now = Date.now();
      if (now - (lastBytes.get(e.host) ?? 0) < bytesEvery) return;
      lastBytes.set(e.host, now);
      hostOutput.get(e.host)?.(`${bytes(e.sent)} sent, ${rate(e.bytesPerSecond)}`);
    } else hostOutput.get(e.host)?.(redact(e.message)); // before listr2 wraps it (see eventLine)
  };

  const tasks = new Listr(
    [
      {
        title: `Build ${config.service}`,
        task: async (_c, task) => {
          ctx.built = await buildRelease({
            config,
            allowDirty: Boolean(opts.allowDirty),
            allowUnpinned: Boolean(opts.allowUnpinned),
            report: (e) => {
              if (e.kind === 'warning') warnings.push(e.message);
              if ('message' in e) task.output = redact(e.message);
            },
          });
          task.title = `Built ${ctx.built.tag} (${shortId(ctx.built.imageId)})`;
        },
      },
      {
        title: `Connect to ${hosts.length} host${hosts.length === 1 ? '' : 's'}`,
        task: async (_c, task) => {
          ctx.connections = await connectAll(hosts, { acceptNewHostKeys: globals.acceptNewHostKeys });
          const down = ctx.connections.filter((c) => c.error).length;
          task.title = down ? `Connected to ${hosts.length - down} of ${hosts.length} hosts` : `Connected to ${hosts.length} hosts`;
        },
      },
      {
        title: 'Ship',
        task: (_c, task) => {
          const built = ctx.built!;
          task.title = `Ship ${built.tag}`;
          const ship = shipImage({
            config,
            docker,
            image: { imageId: built.imageId, ref: built.tag, tag: built.tag.slice(config.service.length + 1), sha: built.sha },
            connections: ctx.connections!,
            report: onEvent,
            onHostDone: (r) => hostDone.get(r.host)?.(r),
          }).then((s) => (ctx.summary = s));
          return task.newListr(
            hosts.map((h) => ({
              title: h.name,
              task: async (_c2, sub) => {
                hostOutput.set(h.name, (line) => (sub.output = line));
                const r = await hostResults.get(h.name)!;
                if (!r.ok) throw r.error ?? new Error('failed');
                sub.title = `${h.name}: ${describe(r)}`;
              },
            })),
            { concurrent: true, exitOnError: false },
          ).run().then(() => ship);
        },
      },
    ],
    listrOptions,
  );

  try {
    await tasks.run();
  } finally {
    if (ctx.connections) closeAll(ctx.connections);
  }
  const summary = ctx.summary!;
  const failed = summary.hosts.filter((h) => !h.ok);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ tag: ctx.built!.tag, imageId: ctx.built!.imageId, included: ctx.built!.included, fullImageBytes: summary.fullImageBytes, hosts: summary.hosts.map((h) => ({ ...h, error: h.error?.message })) }, null, 2) + '\n');
  }
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  for (const f of failed) {
    process.stderr.write(`\nerror: ${f.error?.message ?? f.host}\n`);
    const hint = f.error instanceof BoxshipError ? f.error.hint : undefined;
    if (hint) process.stderr.write(`hint: ${hint}\n`);
  }
  const okHosts = summary.hosts.filter((h) => h.ok).length;
  if (!opts.json) {
    // The files the commit does not pin, so that what went into the image besides the commit is on the record.
    for (const f of ctx.built!.included) process.stdout.write(`included from outside git (build.include): ${f.path} sha256:${f.sha256}\n`);
    process.stdout.write(`\nReleased ${ctx.built!.tag} to ${okHosts} of ${summary.hosts.length} hosts. It is not serving yet: run \`boxship rollout\` to put it into service.\n`);
    if (failed.length) process.stdout.write(`To finish the failed hosts once they are fixed, run: boxship release${failed.map((f) => ` --host ${f.host}`).join('')}\n`);
  }
  // A host refused for a reason the user must fix first (an image built for another platform) makes it exit 2.
  const codes = failed.map((f) => (f.error instanceof BoxshipError ? f.error.exitCode : ExitCode.failed));
  return codes.length ? (codes.includes(ExitCode.needsAction) ? ExitCode.needsAction : ExitCode.failed) : ExitCode.ok;
}

function describe(r: HostShipResult): string {
  if (r.alreadyPresent) return 'already had the image, tagged it';
  return `sent ${bytes(r.bytesSent)} (${r.layersSent} layers, ${r.layersSkipped} already there; ${r.store} image store) in ${seconds(r.seconds)}`;
}
