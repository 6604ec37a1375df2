/**
 * `boxship pin`: record the local image ID of every base image the Dockerfile uses in build.pins, like a lockfile
 * for base images. Comments and layout of boxship.yml are kept.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDocument } from 'yaml';
import { pinnableRefs, pinsFor } from '../../image/pinning.js';
import { configFrom, localDocker, type GlobalOptions } from '../context.js';
import { shortId } from '../format.js';

export function registerPin(program: Command): void {
  program
    .command('pin')
    .description('record the local image ID of each base image the Dockerfile uses under build.pins in boxship.yml')
    .addHelpText(
      'after',
      '\nExample:\n  $ boxship pin            after building or importing a new base image\n\nTo undo, restore boxship.yml from git (git checkout boxship.yml).',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const text = readFileSync(config.build.dockerfile, 'utf8');
      const refs = pinnableRefs(text, config.build.args, config.build.target);
      const { resolveLocalImageIds } = await import('../../image/build.js');
      const ids = await resolveLocalImageIds(await localDocker(), refs);
      const pins = pinsFor(text, config.build.args, ids, config.build.target);
      const doc = parseDocument(readFileSync(config.file, 'utf8'));
      doc.setIn(['build', 'pins'], doc.createNode(pins));
      writeFileSync(config.file, doc.toString());
      for (const [ref, id] of Object.entries(pins)) process.stdout.write(`pinned ${ref} to ${shortId(id)}\n`);
      if (Object.keys(pins).length === 0) process.stdout.write('nothing to pin: every FROM is pinned by digest or is a build stage\n');
    });
}
