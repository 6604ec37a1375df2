/**
 * Brings the simulated hosts up once for the whole run (a no-op when they already run). Unit tests do not need
 * them; set BOXSHIP_NO_HOSTS=1 to skip this when running only those.
 */
import { execFileSync } from 'node:child_process';
import { HOST_SPECS, REPO } from './paths.js';

export default function setup(): void {
  if (process.env.BOXSHIP_NO_HOSTS) return;
  execFileSync('bash', ['scripts/test-hosts.sh', 'up', ...HOST_SPECS], { cwd: REPO, stdio: 'inherit' });
}
