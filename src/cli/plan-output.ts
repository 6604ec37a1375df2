/**
 * `--plan`: the exact remote commands a change would run, per host, without running them. A plan is meant to be read
 * and may be pasted into a shell: every word is quoted with the same quote() the executor uses, text fed on stdin is
 * one quoted word, and a comment stays on its one line, so no value (a --message, say) can run as a command.
 */
import type { Config, HostConfig } from '../config/types.js';
import { type Command, quote, toShell } from '../hosts/command.js';
import type { ProxyMode } from '../proxy/caddy-config.js';
import { proxyHostDir, reloadProxy, writeProxyConfig } from '../proxy/commands.js';
import type { DeployContext } from '../rollout/context.js';
import { absState, hostByName } from '../rollout/context.js';
import type { Move } from '../rollout/plan.js';
import { modeFile, proxyConfigFor, writePrivateFile } from '../rollout/setup.js';
import { moveSteps } from '../rollout/swap.js';

/** A `# ...` line: a newline in `text` would end the comment and make the rest of it a command. */
export function planComment(text: string): string {
  return `   # ${text.replace(/[\r\n]+/g, ' ')}\n`;
}

/** `cmd` with `text` on its stdin, as the executor feeds it (exactly those bytes), written as one shell line. */
export function withStdin(cmd: Command, text: string): string {
  return `printf '%s' ${quote(text)} | ${toShell(cmd)}`;
}

export async function printMovePlan(ctx: DeployContext, title: string, moves: Move[], existing?: Map<string, ReadonlySet<string>>): Promise<void> {
  process.stdout.write(`${title}\n`);
  if (moves.length === 0) process.stdout.write('  nothing to do: every instance already runs it\n');
  for (const [i, m] of moves.entries()) {
    const ssh = hostByName(ctx, m.host);
    const steps = moveSteps(ctx.config, m, await absState(ctx, ssh), existing?.get(m.host));
    process.stdout.write(`\n${i + 1}. ${m.host} slot ${m.slot}: ${m.from ? m.from.slice(0, 12) : '(empty)'} -> ${m.to ? m.to.slice(0, 12) : '(removed)'}${m.to ? ` as ${m.colour}` : ''}\n`);
    const list = [...steps.prepare, steps.start, steps.wait, ...steps.retire].filter((c) => c !== undefined);
    for (const c of list) process.stdout.write(`${planComment(c.why)}   ${toShell(c)}\n`);
    if (steps.discard) process.stdout.write(planComment(`if the health check fails: ${toShell(steps.discard)}, then put back every instance changed so far`));
  }
}

/** The plan of `maintenance on|off`: per host, the mode file, the proxy config and the reload. */
export function maintenancePlan(config: Config, hosts: HostConfig[], stateDir: string, mode: ProxyMode): string {
  const lines = [`Plan: maintenance ${mode.kind === 'maintenance' ? 'on' : 'off'} on ${hosts.length} hosts; nothing has been run.\n`];
  for (const h of hosts) {
    const bytes = Buffer.byteLength(proxyConfigFor(config, h.instances, mode));
    lines.push(
      `\n${h.name}\n`,
      planComment('record the mode'),
      `   ${withStdin(writePrivateFile(modeFile(stateDir), 'record the proxy mode'), JSON.stringify(mode))}\n`,
      planComment(`write the proxy config (the ${bytes} bytes of Caddy JSON for this mode, on stdin)`),
      `   ${toShell(writeProxyConfig(proxyHostDir(stateDir)))}\n`,
      planComment('apply it'),
      `   ${toShell(reloadProxy(config.service))}\n`,
    );
  }
  return lines.join('');
}
