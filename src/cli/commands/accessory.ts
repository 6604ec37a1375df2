/** `boxship accessory up|down|restart|logs NAME`: one accessory (a database, a cache) on its hosts. */
import type { Command } from 'commander';
import { accessoryDown, accessoryRestart, accessoryUp, type AccessoryResult, findAccessory } from '../../accessories/run.js';
import type { AccessoryConfig, Config } from '../../config/types.js';
import { selectHosts } from '../../hosts/fleet.js';
import { DryRunRunner, type Runner } from '../../hosts/runner.js';
import { listNamedLogSource } from '../../logs/commands.js';
import type { DeployContext } from '../../fleet/context.js';
import { names } from '../../fleet/names.js';
import { withLock } from '../../fleet/lock.js';
import { InputError } from '../../util/errors.js';
import { printLogs } from '../print-logs.js';
import { configFrom, type GlobalOptions, localDocker } from '../context.js';
import { withProgress, withSession } from '../fleet-session.js';
import { printJson } from '../json-output.js';
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

const TITLES: Record<Verb, string> = { up: 'Start', down: 'Stop and remove', restart: 'Restart' };

/** The hosts of an accessory, as configured (its `host`/`hosts`, default the first host). */
function hostsOf(config: Config, a: AccessoryConfig) {
  return config.hosts.filter((h) => a.hosts.includes(h.name));
}

async function change(verb: Verb, name: string, opts: ChangeOptions, globals: GlobalOptions): Promise<void> {
  const a = findAccessory(configFrom(globals), name);
  const docker = verb === 'up' ? await localDocker() : undefined;
  const actOn = (ctx: DeployContext, h: Runner) =>
    verb === 'up' ? accessoryUp(ctx, h, docker!, a) : verb === 'restart' ? accessoryRestart(ctx, h, a) : accessoryDown(ctx, h, a, Boolean(opts.removeData));
  // Every host finishes (or fails) before the lock is given back; then the first failure is the error.
  const act = async (ctx: DeployContext) => {
    const settled = await Promise.allSettled(ctx.hosts.map((h) => actOn(ctx, h)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<AccessoryResult>).value);
  };
  await withSession(
    globals,
    async ({ ctx, config }) => {
      if (opts.plan) {
        // The real command against dry-run runners: reads run, writes are recorded and printed.
        const dry = ctx.hosts.map((h) => new DryRunRunner(h));
        const planCtx = { ...ctx, hosts: dry, report: () => {} };
        await withLock(
          planCtx,
          () => act(planCtx),
          () => `accessory ${verb} ${name}`,
        );
        process.stdout.write(`Plan: accessory ${verb} ${name}${opts.removeData ? ' --remove-data' : ''} on ${dry.length} host(s); nothing has been run.\n`);
        for (const d of dry) process.stdout.write(`\n${d.name}\n${d.describe().join('\n')}\n`);
        return;
      }
      const results = await withLock(
        ctx,
        () => withProgress(`${TITLES[verb]} accessory ${name} (${names.accessory(config.service, name)}) on ${ctx.hosts.length} host(s)`, ctx, () => act(ctx)),
        (rs) => `accessory ${verb} ${name}: ${rs.map((r) => r.action).join(', ')}`,
      );
      if (opts.json) {
        printJson({
          accessory: name,
          action: verb,
          hosts: results.map((r) => ({ host: r.host, action: r.action, ...(r.dataRemoved ? { dataRemoved: true } : {}) })),
        } satisfies AccessoryJson);
        return;
      }
      process.stdout.write('\n');
      for (const r of results) process.stdout.write(`${r.host}: accessory ${name} ${r.action}${r.dataRemoved ? ', data removed' : ''}\n`);
      if (verb === 'down') {
        process.stdout.write(
          opts.removeData
            ? `Its data is gone. To start it afresh: boxship accessory up ${name}\n`
            : `Its data is kept. To start it again on the same data: boxship accessory up ${name}\n`,
        );
      } else {
        process.stdout.write(
          `Reachable from the app as ${name}${a.port !== undefined ? `:${a.port}` : ''} on the service network. To stop it (data kept): boxship accessory down ${name}\n`,
        );
      }
    },
    (config) => hostsOf(config, findAccessory(config, name)),
  );
}

/** `boxship logs`'s options, less --proxy. */
type AccessoryLogsOptions = Omit<LogsOptions, 'proxy'>;

async function logs(name: string, opts: AccessoryLogsOptions, globals: GlobalOptions): Promise<void> {
  const config = configFrom(globals);
  const a = findAccessory(config, name);
  const hosts = opts.host ? selectHosts(config, opts.host) : hostsOf(config, a);
  const elsewhere = hosts.filter((h) => !a.hosts.includes(h.name));
  if (elsewhere.length)
    throw new InputError(`accessory ${name} does not run on ${elsewhere.map((h) => h.name).join(', ')}`, { hint: `it runs on: ${a.hosts.join(', ')}` });
  const container = names.accessory(config.service, name);
  await printLogs(
    hosts,
    { acceptNewHostKeys: globals.acceptNewHostKeys, timestamps: opts.timestamps, sourceWidth: container.length },
    {
      service: config.service,
      // Not following: a stopped accessory's logs too (why did it stop?); following: the running one.
      list: (following) => listNamedLogSource(container, !opts.follow && !following),
      what: `${container} container (run: boxship accessory up ${name})`,
      follow: opts.follow,
      since: opts.since,
      lines: opts.lines === 'all' ? undefined : opts.lines,
    },
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
A running accessory whose image, command, env, secrets, port or volumes changed is stopped cleanly (stop_timeout_seconds)
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
