import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEST_STATE = join(REPO, '.boxship-test');
export const TEST_KEY = join(TEST_STATE, 'id_ed25519');
export const TEST_KNOWN_HOSTS = join(TEST_STATE, 'known_hosts');
export const BOXSHIP_BIN = join(REPO, 'bin', 'boxship.js');

/** The two simulated hosts started by scripts/test-hosts.sh (defaults). */
export const HOSTS = [
  { name: 'a', container: 'boxship-host-a', sshPort: 2201, httpPort: 8081, address: 'root@127.0.0.1:2201' },
  { name: 'b', container: 'boxship-host-b', sshPort: 2202, httpPort: 8082, address: 'root@127.0.0.1:2202' },
] as const;
export type TestHost = (typeof HOSTS)[number];
