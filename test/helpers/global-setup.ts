/**
 * Brings the simulated hosts up once for the whole run (a no-op when they already run). Only the integration project
 * (vitest.config.ts) runs it, so a unit run never starts a container; BOXSHIP_NO_HOSTS=1 skips it there too, for
 * hosts that something else keeps up.
 *
 * Without BOXSHIP_TEST_HOSTS the hosts are this checkout's slot (host-slots.ts): a fresh clone on a machine where
 * another checkout's hosts are up gets hosts of its own instead of failing on, or wiping, the other's. The suites'
 * ACME CA (pebble.ts) lives as long as the run: the teardown stops this checkout's, and only it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { stopOwnPebble } from './pebble.js';
import { chooseSlot, MAX_SLOT, slot, slotPorts, type MachineView } from './host-slots.js';
import { REPO, rememberedSlot, SLOT_FILE, TEST_OWNER, TEST_STATE } from './paths.js';

const docker = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function machineView(ports: number[]): Promise<MachineView> {
  const containers = new Map<string, string>();
  for (const line of docker(['ps', '-a', '--format', '{{.Names}}\t{{.Label "dev.boxship.test-checkout"}}']).split('\n')) {
    const [name, owner = ''] = line.split('\t');
    if (name) containers.set(name, owner);
  }
  const published = new Map<number, string>();
  for (const line of docker(['ps', '--format', '{{.Label "dev.boxship.test-checkout"}}\t{{.Ports}}']).split('\n')) {
    const [owner = '', list = ''] = line.split('\t');
    for (const m of list.matchAll(/:(\d+)->/g)) published.set(Number(m[1]), owner);
  }
  const busy = new Set<number>();
  for (const p of ports) if (!published.has(p) && !(await canListen(p))) busy.add(p);
  return { containers, published, busy };
}

/** Every port a slot could publish: what machineView() needs to look at. */
export const candidatePorts = () => Array.from({ length: MAX_SLOT + 1 }, (_, i) => slotPorts(slot(i))).flat();

async function pickHosts(): Promise<void> {
  // scripts/test-lanes.ts picks the lanes' slots up front, all in one process: lanes starting together cannot race.
  const forced = process.env.BOXSHIP_TEST_SLOT;
  const { slot: chosen, skipped } =
    forced !== undefined ? { slot: slot(Number(forced)), skipped: [] } : chooseSlot(TEST_OWNER, await machineView(candidatePorts()), rememberedSlot());
  if (skipped.length) console.error(`[test-hosts] ${skipped.join('; ')}: this checkout uses slot ${chosen.index} (${chosen.hosts.join(' ')}, ${chosen.bare})`);
  mkdirSync(TEST_STATE, { recursive: true });
  writeFileSync(SLOT_FILE, `${chosen.index}\n`);
  process.env.BOXSHIP_TEST_HOSTS = chosen.hosts.join(' ');
  process.env.BOXSHIP_BARE_HOST = chosen.bare;
}

/**
 * Brings the hosts up. The function it returns is vitest's teardown (after the last file): it stops this checkout's
 * pebble (test/helpers/pebble.ts) if a suite started one, and never looks at another slot's.
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (!process.env.BOXSHIP_NO_HOSTS) {
    if (!process.env.BOXSHIP_TEST_HOSTS) await pickHosts();
    const specs = process.env.BOXSHIP_TEST_HOSTS!.trim().split(/[\s,]+/);
    execFileSync('bash', ['scripts/test-hosts.sh', 'up', ...specs], { cwd: REPO, stdio: 'inherit' });
  }
  return stopOwnPebble;
}
