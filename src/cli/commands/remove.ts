/** `boxship remove`: take the service off every host of boxship.yml, asking first (other services stay untouched). */
import { confirm } from '../confirm.js';
import type { Command } from 'commander';
import type { RemoveResult } from '../../backend/types.js';
import { EDGE_CONTAINER, EDGE_DATA_VOLUME, EDGE_VOLUME } from '../../edge/layout.js';
import type { HostRemoval } from '../../remove/run.js';
import { stateDir } from '../../state/paths.js';
import { InputError } from '../../util/errors.js';
import type { GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { printPlan } from '../render/plan.js';
import { withBackend } from '../session.js';

interface RemoveOptions {
  yes?: boolean;
  removeData?: boolean;
  plan?: boolean;
  json?: boolean;
}

/** The documented shape of `remove --json`. */
interface RemoveJson {
  service: string;
  hosts: HostRemoval[];
}

const UNDO = 'boxship setup && boxship deploy brings it back';

/** Asks on the terminal; false for anything but y/yes. */
function render(service: string, hosts: HostRemoval[], removeData: boolean): void {
  process.stdout.write('\n');
  for (const h of hosts) {
    const parts = [`${h.containers.length} containers`, `${h.images.length} release images`];
    if (h.routes.length) parts.push(`edge routes ${h.routes.join(', ')}`);
    if (h.network === 'removed') parts.push('its network');
    process.stdout.write(`${h.host}: removed ${parts.join(', ')}\n`);
    for (const k of h.imagesKept) process.stdout.write(`${h.host}: kept the image ${service}:${k.tag}: ${k.why}\n`);
    if (typeof h.network === 'object') process.stdout.write(`${h.host}: kept the network boxship-${service}: ${h.network.kept}\n`);
    if (h.stateDir === 'data kept') process.stdout.write(`${h.host}: its data stays in ~/${stateDir(service)}/ (volumes/, accessories/<name>/)\n`);
    if (h.stateDir === 'locked') process.stdout.write(`${h.host}: ~/${stateDir(service)}/ stays: another boxship command took its lock meanwhile\n`);
  }
  const idle = hosts.filter((h) => h.edgeIdle).map((h) => h.host);
  if (idle.length) {
    process.stdout.write(
      `The edge (${EDGE_CONTAINER}) on ${idle.join(', ')} routes no service now; it stays, holding ports 80/443 for the next one. To remove it there: docker rm -f $(docker ps -aq --filter name=${EDGE_CONTAINER}) && docker volume rm ${EDGE_VOLUME} ${EDGE_DATA_VOLUME}\n`,
    );
  }
  process.stdout.write(
    removeData ? `${service} and its data are gone. ${UNDO}, without the data.\n` : `${service} is removed; its data is kept. ${UNDO} on the same data.\n`,
  );
}

export function registerRemove(program: Command): void {
  program
    .command('remove')
    .description(
      'remove the service from every host: instances, proxy, edge routes, accessories, release images, network, state (data kept unless --remove-data)',
    )
    .option('-y, --yes', 'do not ask (needed where there is no terminal to ask on)')
    .option('--remove-data', "also remove the app's volumes and the accessories' data folders (cannot be undone)")
    .option('--plan', 'print the exact steps and commands per host without running them')
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship remove                      asks, then removes; data folders stay on the hosts
  $ boxship remove --yes --remove-data  no question; the data goes too (cannot be undone)
  $ boxship remove --plan               the commands it would run on each host

Other services on the same servers, their routes and images, and the server's edge stay as they are.
To undo: ${UNDO}; data kept unless --remove-data.`,
    )
    .action(async (opts: RemoveOptions, cmd: Command) => {
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ config, backend }) => {
        if (!opts.plan && !opts.yes) {
          const question = `remove service ${config.service} from hosts ${config.hosts.map((h) => h.name).join(', ')}${opts.removeData ? ', and its DATA (--remove-data)' : ''}? [y/N] `;
          if (!process.stdin.isTTY) {
            throw new InputError(`not removing ${config.service} without a yes: there is no terminal to ask on`, {
              hint: `run it again with --yes (boxship remove --yes${opts.removeData ? ' --remove-data' : ''}); nothing was changed`,
            });
          }
          if (!(await confirm(question))) {
            process.stderr.write('Nothing was changed.\n');
            return;
          }
        }
        const r: RemoveResult = await backend.remove({ removeData: opts.removeData, plan: opts.plan });
        process.exitCode = r.exitCode;
        if (r.backend === 'plan') return printPlan(r.plan);
        if (opts.json) return printJson({ service: r.service, hosts: r.hosts } satisfies RemoveJson);
        render(r.service, r.hosts, Boolean(opts.removeData));
      });
    });
}
