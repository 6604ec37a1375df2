/** `status` of the per-host backend, for people (`--json` prints the rows as they are). */
import type { HostStatusRow } from '../../backend/types.js';
import { shortSha } from '../../util/short.js';

export function renderHostStatus(r: HostStatusRow): string {
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
      `    ${i.name.padEnd(24)} ${shortSha(i.tag).padEnd(12)} ${i.colour.padEnd(5)} ${i.health}${r.current && i.tag !== r.current ? '  (canary)' : ''}`,
    );
  for (const d of r.draining ?? [])
    lines.push(`    ${d.name.padEnd(24)} ${shortSha(d.tag).padEnd(12)} draining until ${d.until.slice(11, 19)} UTC (out of rotation; removed when done)`);
  if (r.roles) {
    lines.push('  roles:');
    if (r.roles.length === 0) lines.push('    none (run: boxship rollout)');
    for (const c of r.roles)
      lines.push(
        `    ${c.name.padEnd(24)} ${shortSha(c.tag).padEnd(12)} ${c.role.padEnd(12)} ${c.state}${r.current && c.tag !== r.current ? '  (not the current release)' : ''}`,
      );
  }
  if (r.accessories) {
    lines.push('  accessories:');
    for (const a of r.accessories)
      lines.push(`    ${a.name.padEnd(24)} ${a.image.padEnd(30)} ${a.status}${a.status === 'missing' ? ` (run: boxship accessory up ${a.name})` : ''}`);
  }
  if (r.edge) {
    lines.push(`  edge:     ${r.edge.status}${r.edge.status === 'running' ? '' : ' (run: boxship setup)'}`);
    for (const n of r.edge.names) {
      const cert = n.certificate
        ? `certificate from ${n.certificate.issuer}, valid until ${n.certificate.notAfter.slice(0, 10)}`
        : n.tls === 'off'
          ? 'plain HTTP (tls: off)'
          : 'NO CERTIFICATE';
      lines.push(`    ${n.host.padEnd(32)} ${cert}`);
      if (n.error) lines.push(`      why: ${n.error}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
