/** `boxship accessory up|down|restart|logs NAME`: one accessory (a database, a cache) on its hosts. */
import type { Command } from 'commander';
import { type AccessoryResult, findAccessory } from '../../accessories/run.js';
import { selectHosts } from '../../hosts/fleet.js';
import type { GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { printLogs } from '../print-logs.js';
import { printPlan } from '../render/plan.js';
import { withBackend } from '../session.js';
import { linesValue, type LogsOptions, sinceValue } from './logs.js';

/** The documented shape of `accessory up|down|restart --json`. */
interface AccessoryJson {
  accessory: string;
  action: 'up' | 'down' | 'restart';
  hosts: { host: string; action: AccessoryResult['action']; dataRemoved?: boolean }[];
}

interface ChangeOptions {
  plan?: boolean;
  json?: boolean;
  removeData?: boolean;
}

type Verb = 'up' | 'down' | 'restart';

async function change(verb: Verb, name: string, opts: ChangeOptions, globals: GlobalOptions): Promise<void> {
  await withBackend(globals, async ({ config, backend }) => {
    const r = await backend.accessory({ verb, name, removeData: opts.removeData, plan: opts.plan });
    process.exitCode = r.exitCode;
    if (r.backend === 'plan') return printPlan(r.plan);
    if (opts.json) {
      printJson({
        accessory: name,
        action: verb,
        hosts: r.hosts.map((h) => ({ host: h.host, action: h.action, ...(h.dataRemoved ? { dataRemoved: true } : {}) })),
      } satisfies AccessoryJson);
      return;
    }
    process.stdout.write('\n');
    for (const h of r.hosts) process.stdout.write(`${h.host}: accessory ${name} ${h.action}${h.dataRemoved ? ', data removed' : ''}\n`);
    if (verb === 'down') {
      process.stdout.write(
        opts.removeData
          ? `Its data is gone. To start it afresh: boxship accessory up ${name}\n`
          : `Its data is kept. To start it again on the same data: boxship accessory up ${name}\n`,
      );
    } else {
      const a = findAccessory(config, name);
      process.stdout.write(
        `Reachable from the app as ${name}${a.port !== undefined ? `:${a.port}` : ''} on the service network. To stop it (data kept): boxship accessory down ${name}\n`,
      );
    }
  });
}

/** `boxship logs`'s options, less --proxy. */
type AccessoryLogsOptions = Omit<LogsOptions, 'proxy'>;

async function logs(name: string, opts: AccessoryLogsOptions, globals: GlobalOptions): Promise<void> {
  await withBackend(
    globals,
    async ({ config, backend }) => {
      const a = findAccessory(config, name);
      const hosts = opts.host ? selectHosts(config, opts.host) : config.hosts.filter((h) => a.hosts.includes(h.name));
      process.exitCode = await printLogs(
        backend,
        config,
        { accessory: name, hosts, follow: opts.follow, since: opts.since, lines: opts.lines === 'all' ? undefined : opts.lines },
        opts.timestamps,
      );
    },
    { verbose: true },
  );
}

export function registerAccessory(program: Command): void {
  const accessory = program
    .command('accessory')
    .description('manage an accessory (accessories: in boxship.yml), e.g. a database: up, down, restart, logs')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship accessory up db               start it (its image shipped from here), or recreate it after a change
  $ boxship accessory restart db          stop it cleanly and start the same container again (same data)
  $ boxship accessory logs -f db          follow its logs
  $ boxship accessory down db             stop and remove its container; its data folders stay
  $ boxship accessory down db --remove-data

setup, rollout and deploy start accessories that are missing and never restart a running one.
An accessory runs as the container <service>-<name> on the service network, where the app reaches it by <name>;
its data lives in ~/.boxship/<service>/accessories/<name>/ on its hosts.`,
    );

  const changeCommand = (verb: Verb, description: string, help: string) =>
    accessory
      .command(verb)
      .description(description)
      .argument('<name>', 'the accessory, as named under accessories: in boxship.yml')
      .option('--plan', 'print the exact steps and commands per host without running them')
      .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
      .addHelpText('after', help);

  changeCommand(
    'up',
    'start the accessory where it is missing or stopped; recreate it (same data) when its image or settings changed',
    `
Examples:
  $ boxship accessory up db
  $ boxship accessory up db --plan

The image is the one the Docker engine here has under accessories.<name>.image; only the layers a host lacks travel.
A running accessory whose image, command, env, secrets, port, volumes or stop settings changed is stopped cleanly (stop_timeout_seconds)
and started again on the same data folders. To undo: boxship accessory down <name> (data kept).`,
  ).action(async (name: string, opts: ChangeOptions, cmd: Command) => change('up', name, opts, cmd.optsWithGlobals<GlobalOptions>()));

  changeCommand(
    'down',
    'stop and remove the accessory’s container; its data folders stay unless --remove-data',
    `
Examples:
  $ boxship accessory down db                    data kept in ~/.boxship/<service>/accessories/db/
  $ boxship accessory down db --remove-data      data removed too (cannot be undone)

To undo (without --remove-data): boxship accessory up <name> starts it again on the same data.`,
  )
    .option('--remove-data', 'also remove its data folders on the host (cannot be undone)')
    .action(async (name: string, opts: ChangeOptions, cmd: Command) => change('down', name, opts, cmd.optsWithGlobals<GlobalOptions>()));

  changeCommand(
    'restart',
    'stop the accessory cleanly and start the same container again (same data and settings)',
    `
Example:
  $ boxship accessory restart db

A change in boxship.yml (image, env, cmd…) is applied by boxship accessory up, not by restart.`,
  ).action(async (name: string, opts: ChangeOptions, cmd: Command) => change('restart', name, opts, cmd.optsWithGlobals<GlobalOptions>()));

  accessory
    .command('logs')
    .description('show the logs of the accessory on its hosts, each line prefixed with host and container')
    .argument('<name>', 'the accessory, as named under accessories: in boxship.yml')
    .option('-f, --follow', 'keep following (Ctrl-C to stop), across restarts')
    .option('--host <host...>', 'only these of its hosts')
    .option('--since <duration|time>', 'only lines since then: 10m, 1h30m, 2026-11-25T18:00:00Z', sinceValue)
    .option('-n, --lines <n>', 'the last N lines (all: everything)', linesValue, 100)
    .option('-t, --timestamps', 'show each line’s time')
    .addHelpText('after', '\nExamples:\n  $ boxship accessory logs db\n  $ boxship accessory logs -f -n 20 db\n\nOnly reads: nothing on the hosts changes.')
    .action(async (name: string, opts: AccessoryLogsOptions, cmd: Command) => logs(name, opts, cmd.optsWithGlobals<GlobalOptions>()));
}
