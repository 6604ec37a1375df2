/** `boxship init`: write a commented boxship.yml for the app in this folder, from what is there. */
import { dirname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { pinnableRefs } from '../../image/pinning.js';
import { readCompose } from '../../init/compose.js';
import { detectApp } from '../../init/detect.js';
import { secretLines } from '../../init/render-compose.js';
import { nextCommands, renderConfig } from '../../init/render.js';
import { writeInit } from '../../init/write.js';
import { localDocker, type GlobalOptions } from '../context.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface InitOptions {
  host?: string[];
  secretsFile: string;
  pin: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a commented boxship.yml for the app in this folder (from its compose file, Dockerfile, git repo and lockfile)')
    .option('--host <address...>', 'servers to deploy to, as [user@]host[:port] (default: an empty list to fill in)')
    .option('--secrets-file <file>', 'the local KEY=VALUE secrets file (created empty, added to .gitignore)', '.env.secrets')
    .option('--no-pin', 'do not look up the local base images for build.pins')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship init                                 then fill in hosts: in boxship.yml
  $ boxship init --host deploy@10.0.0.5 --host deploy@10.0.0.6
  $ boxship -c staging.yml init                  write another file

It never overwrites an existing file (exit 2). To undo: delete boxship.yml (and the secrets file line in .gitignore).`,
    )
    .action(async (opts: InitOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const configPath = resolve(globals.config);
      const dir = dirname(configPath);
      const compose = readCompose(dir);
      const facts = detectApp(dir, opts.secretsFile, compose?.app);
      let pins: Record<string, string> = {};
      let unpinned: string[] = [];
      if (facts.dockerfile && opts.pin) {
        const refs = pinnableRefs(readFileSync(join(dir, compose?.app?.context ?? '.', facts.dockerfile), 'utf8'), compose?.app?.args ?? {}, facts.finalStage);
        try {
          const { resolveLocalImageIds } = await import('../../image/build.js');
          const ids = await resolveLocalImageIds(await localDocker(), refs);
          pins = Object.fromEntries(refs.flatMap((r) => (ids.has(r) ? [[r, ids.get(r)!]] : [])));
          unpinned = refs.filter((r) => !ids.has(r));
        } catch {
          unpinned = refs; // no local Docker engine: pin later with `boxship pin`
        }
      }
      const text = renderConfig(facts, { hosts: opts.host, pins, unpinned, ...(compose ? { compose } : {}) });
      const written = writeInit(dir, configPath, text, opts.secretsFile, secretLines(compose, opts.secretsFile));
      const shown = relative(process.cwd(), configPath) || configPath;
      const out = process.stdout;
      out.write(`Wrote ${shown} for service "${facts.service}"`);
      const app = compose?.app;
      out.write(
        app
          ? ` from ${compose.file} (services.${app.name}: port ${app.port ?? facts.exposePort ?? 3000}, health check ${app.health?.path ?? facts.healthcheck?.path ?? '/health'}` +
              `${compose.accessories.length ? `; accessories: ${compose.accessories.map((a) => a.name).join(', ')}` : ''})\n`
          : facts.dockerfile
            ? ` (Dockerfile: port ${facts.exposePort ?? '3000 (no EXPOSE)'}, health check ${facts.healthcheck?.path ?? '/health (no HEALTHCHECK URL)'})\n`
            : ' (no Dockerfile found: write one first)\n',
      );
      const notMapped = (compose?.notes.length ?? 0) + (app?.notes.length ?? 0) + (compose?.accessories.reduce((n, a) => n + a.notes.length, 0) ?? 0);
      if (notMapped) out.write(`${notMapped} thing(s) in ${compose?.file} have no place in boxship.yml: see the comments at its end.\n`);
      if (compose && !app) out.write(`${compose.file} builds no service (no build:): the app is this folder's Dockerfile.\n`);
      for (const f of written.secretFiles.created)
        out.write(`Wrote the secret values from ${compose?.file} to ${f} (mode 0600, git-ignored), not to boxship.yml.\n`);
      for (const f of written.secretFiles.kept)
        out.write(`${f} exists and was left as it is: add the secret values from ${compose?.file} to it (boxship.yml names the keys).\n`);
      if (Object.keys(pins).length) out.write(`Pinned ${Object.keys(pins).join(', ')} by local image ID.\n`);
      if (unpinned.length) out.write(`Not pinned (no local image): ${unpinned.join(', ')}; pull it, then run: boxship pin\n`);
      if (written.secretsCreated && !written.secretFiles.created.includes(opts.secretsFile)) {
        out.write(`Created ${opts.secretsFile} (empty, mode 0600) for secret values.\n`);
      }
      if (written.gitignoreChanged) out.write(`Added ${opts.secretsFile} to .gitignore.\n`);
      if (!facts.git) out.write('This folder is not a git repository: boxship builds the committed tree, so commit first.\n');
      out.write(
        `\nNext:\n${nextCommands(shown, facts, written.gitignoreChanged, Boolean(opts.host?.length))
          .map((c, i) => `  ${i + 1}. ${c}`)
          .join('\n')}\n`,
      );
      out.write(
        `\nTo undo: rm ${shown}${written.secretsCreated ? ` ${opts.secretsFile}` : ''}${written.secretFiles.created
          .filter((f) => f !== opts.secretsFile)
          .map((f) => ` ${f}`)
          .join('')}${written.gitignoreChanged ? ' (and drop the boxship lines from .gitignore)' : ''}\n`,
      );
    });
}
