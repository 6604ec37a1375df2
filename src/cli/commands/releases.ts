/** `boxship releases`: the release ledger of each host, newest first, and whether each image is still there. */
import type { Command } from 'commander';
import { openFleet, selectHosts } from '../../hosts/fleet.js';
import { releasesOnHost } from '../../ship/present.js';
import { ExitCode } from '../../util/errors.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { shortId } from '../format.js';

export function registerReleases(program: Command): void {
  program
    .command('releases')
    .description('list the releases recorded on each host, newest first, and whether each image is still present')
    .option('--host <host...>', 'only these hosts')
    .option('--json', 'print JSON')
    .addHelpText('after', "\nExample:\n  $ boxship releases --json | jq '.[0].releases[0].tag'")
    .action(async (opts: { host?: string[]; json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      const fleet = await openFleet(selectHosts(config, opts.host), { acceptNewHostKeys: globals.acceptNewHostKeys });
      try {
        const rows = await Promise.all(
          fleet.connections.map(async (c) => {
            if (!c.ssh) return { host: c.host.name, error: c.error.message, releases: [] };
            return { host: c.host.name, releases: await releasesOnHost(c.ssh, config.service) };
          }),
        );
        if (opts.json) printJson(rows);
        else
          for (const r of rows) {
            process.stdout.write(`\n${r.host}\n`);
            if ('error' in r && r.error) process.stdout.write(`  unreachable: ${r.error}\n`);
            else if (r.releases.length === 0) process.stdout.write('  no releases yet (run: boxship release)\n');
            for (const e of r.releases)
              process.stdout.write(`  ${e.tag.padEnd(42)} ${e.present ? 'present' : 'removed'}  ${shortId(e.imageId)}  ${e.time}  ${e.user}\n`);
          }
        process.exitCode = rows.some((r) => 'error' in r && r.error) ? ExitCode.failed : ExitCode.ok;
      } finally {
        fleet.close();
      }
    });
}
