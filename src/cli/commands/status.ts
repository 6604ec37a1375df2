/** `boxship status`: per host, the proxy mode, each instance (release, health), current and previous release, lock. */
import type { Command } from 'commander';
import { inspectAccessory, parseAccessoryState } from '../../accessories/commands.js';
import { accessoriesOn } from '../../accessories/run.js';
import { openFleet } from '../../hosts/fleet.js';
import type { Runner } from '../../hosts/runner.js';
import { parseProxyState, probeUpstream, proxyState } from '../../proxy/commands.js';
import type { DeployContext } from '../../fleet/context.js';
import { relState } from '../../fleet/context.js';
import { parseInstances, listInstances } from '../../rollout/instance-commands.js';
import { names } from '../../fleet/names.js';
import { readMode } from '../../rollout/setup.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../../state/deploys.js';
import { lockAge, parseLockInfo, readLock, staleReason } from '../../state/lock.js';
import { whoAmI } from '../../state/ledger.js';
import { ExitCode } from '../../util/errors.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { printJson } from '../json-output.js';
import { swarmStatusCommand } from '../swarm.js';

async function hostStatus(ctx: DeployContext, ssh: Runner) {
  const { config } = ctx;
  const rel = relState(ctx);
  const [mode, proxy, instances, deploys, lock, accessories] = await Promise.all([
    readMode(ctx, ssh),
    ssh.run(proxyState(config.service)).then(parseProxyState),
    ssh.run(listInstances(config.service)).then(parseInstances),
    ssh.run(readDeploys(rel)).then(parseDeploys),
    Promise.all([ssh.run(readLock(rel)).then(parseLockInfo), ssh.run(lockAge(rel))]).then(([info, age]) =>
      info ? { ...info, ageSeconds: Number(age.trim()), stale: staleReason({ info, ageSeconds: Number(age.trim()) }) ?? null } : undefined,
    ),
    Promise.all(
      accessoriesOn(config, ssh.name).map(async (a) => {
        const st = parseAccessoryState(await ssh.run(inspectAccessory(config.service, a.name)));
        return { name: a.name, image: st.image ?? a.image, status: st.status ?? 'missing' };
      }),
    ),
  ]);
  const withHealth = await Promise.all(
    instances
      .sort((a, b) => a.slot - b.slot || a.name.localeCompare(b.name))
      .map(async (i) => {
        const probe = i.running
          ? await ssh.exec(
              probeUpstream(
                config.service,
                names.alias(config.service, i.slot, i.colour),
                config.healthcheck.port,
                config.healthcheck.path,
                config.healthcheck.timeoutMs,
              ),
              { allowFailure: true },
            )
          : undefined;
        return { ...i, health: !i.running ? 'stopped' : probe?.code === 0 ? 'healthy' : 'unhealthy' };
      }),
  );
  return {
    host: ssh.name,
    mode: mode.kind,
    proxy: proxy.status,
    ...currentAndPrevious(deploys),
    instances: withHealth,
    ...(accessories.length ? { accessories } : {}),
    lock: lock ?? null,
  };
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show, per host: proxy mode, instances with their release and health, accessories, current and previous release, lock holder')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  $ boxship status\n  $ boxship status --json')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      if (config.swarm) {
        process.exitCode = await swarmStatusCommand(globals, config, Boolean(opts.json));
        return;
      }
      const fleet = await openFleet(config.hosts, { acceptNewHostKeys: globals.acceptNewHostKeys });
      try {
        const ctx: DeployContext = { config, hosts: fleet.hosts, who: whoAmI(), command: 'status', report: () => {} };
        const rows = await Promise.all(
          fleet.connections.map((c) => (c.ssh ? hostStatus(ctx, c.ssh) : Promise.resolve({ host: c.host.name, error: c.error.message }))),
        );
        if (opts.json) printJson(rows);
        else for (const r of rows) process.stdout.write(render(r));
        process.exitCode = rows.some((r) => 'error' in r) ? ExitCode.failed : ExitCode.ok;
      } finally {
        fleet.close();
      }
    });
}

type Row = Awaited<ReturnType<typeof hostStatus>> | { host: string; error: string };

function render(r: Row): string {
  if ('error' in r) return `\n${r.host}\n  unreachable: ${r.error}\n`;
  const lines = [
    `\n${r.host}`,
    `  proxy:    ${r.proxy}${r.mode === 'maintenance' ? ' (MAINTENANCE: every request gets 503)' : ''}`,
    `  current:  ${r.current ?? '-'}`,
    `  previous: ${r.previous ?? '-'}`,
  ];
  if (r.lock) {
    lines.push(`  lock:     held by ${r.lock.who} running "${r.lock.command}" since ${r.lock.time}`);
    if (r.lock.stale) lines.push(`            INTERRUPTED RUN: ${r.lock.stale}; the next rollout or rollback takes the lock over and cleans up after it`);
  }
  const leftovers = r.instances.filter((i) => /\.(next|old-\w+)$/.test(i.name));
  if (leftovers.length && !r.lock)
    lines.push(`  leftovers of an interrupted run: ${leftovers.map((i) => i.name).join(', ')} (the next rollout or rollback cleans them up)`);
  lines.push('  instances:');
  if (r.instances.length === 0) lines.push('    none (run: boxship rollout)');
  for (const i of r.instances)
    lines.push(
      `    ${i.name.padEnd(24)} ${i.tag.slice(0, 12).padEnd(12)} ${i.colour.padEnd(5)} ${i.health}${r.current && i.tag !== r.current ? '  (canary)' : ''}`,
    );
  if (r.accessories) {
    lines.push('  accessories:');
    for (const a of r.accessories)
      lines.push(`    ${a.name.padEnd(24)} ${a.image.padEnd(30)} ${a.status}${a.status === 'missing' ? ` (run: boxship accessory up ${a.name})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
