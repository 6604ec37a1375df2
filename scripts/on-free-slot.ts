/**
 * `npm run demo` and `npm run bench:rollout|edge|swarm`: runs the script named on the command line on this checkout's
 * test hosts, picked as the suites pick them (test/helpers/global-setup.ts): the remembered slot while it fits, else
 * the first free one, so a demo or bench never refuses to start, nor touches hosts, because another checkout's are up. BOXSHIP_TEST_HOSTS (and
 * BOXSHIP_BARE_HOST) still pick hosts by hand. The script runs as a child process: its modules read the hosts from the
 * environment this sets. This checkout's pebble, if the bench started one, is stopped afterwards.
 *
 *   tsx scripts/on-free-slot.ts bench/rollout.ts
 */
import { spawn } from 'node:child_process';
import setup from '../test/helpers/global-setup.js';

const [bench, ...args] = process.argv.slice(2);
if (!bench) {
  console.error('usage: tsx scripts/on-free-slot.ts <script>.ts [args...]');
  process.exit(2);
}
const teardown = await setup();
const child = spawn(process.execPath, ['--import', 'tsx', bench, ...args], { stdio: 'inherit', env: process.env });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
const code = await new Promise<number>((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 130 : 1))));
await teardown();
process.exit(code);
