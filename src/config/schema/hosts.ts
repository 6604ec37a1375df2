/**
 * `ssh:` and `hosts:` of boxship.yml: which servers, and how to reach them. Together because a host in object form
 * overrides the ssh defaults key by key, and their descriptions say so.
 */
import { z } from 'zod';
import { ADDRESS_FORMAT, parseAddress } from '../address.js';
import { address, ipAddress, localPath, wholeNumber } from './fields.js';

const IDENTITY_FILE = 'Private key for SSH, e.g. ~/.ssh/id_ed25519. Absent: keys from the ssh-agent at SSH_AUTH_SOCK.';
const KNOWN_HOSTS = 'known_hosts file the host keys are checked against.';
const JUMP = 'Bastion host the SSH connection goes through, as [user@]host[:port].';

export const ssh = z
  .strictObject({
    identity_file: localPath().optional().describe(IDENTITY_FILE),
    known_hosts: localPath().default('~/.ssh/known_hosts').describe(KNOWN_HOSTS),
    jump: address(JUMP).optional(),
    config_file: localPath()
      .optional()
      .describe(
        'OpenSSH client config read for host aliases (HostName, User, Port, IdentityFile, ProxyJump; values in boxship.yml win). ' +
          'Default: ~/.ssh/config when it exists; "none" reads none.',
      ),
  })
  .prefault({})
  .describe('SSH settings for every host; a host in object form may override them.');

const hostAddress = address('Host as [user@]host[:port]; user defaults to root, port to 22. IPv6 in brackets: root@[::1]:22.');

const hostObject = z
  .strictObject({
    address: hostAddress,
    identity_file: localPath().optional().describe(`${IDENTITY_FILE} Overrides ssh.identity_file.`),
    known_hosts: localPath().optional().describe(`${KNOWN_HOSTS} Overrides ssh.known_hosts.`),
    jump: address(`${JUMP} Overrides ssh.jump.`).optional(),
    instances: wholeNumber(1, 20).optional().describe('Instances (containers) on this host. Overrides instances.'),
    relay_address: address(
      'Where the other hosts reach this one over SSH when they relay layers to it (ship.relay), e.g. its private address deploy@10.0.0.6; default: its address above, with user and port as resolved.',
    ).optional(),
    private_address: ipAddress()
      .optional()
      .describe(
        "IP address of this host on the servers' private network, e.g. 10.0.0.6: an accessory here is published on it (only there) for the app on the hosts that do not run it. Default: relay_address's host, else the address boxship connects to.",
      ),
  })
  .describe('A host with its own settings.');

/**
 * One entry per server (host name and port, whatever the user): two entries for one server would make two
 * deploys fight over the same containers. Entries that are not valid addresses are reported elsewhere.
 */
function uniqueHosts(hosts: unknown[], ctx: z.core.$RefinementCtx<unknown[]>): void {
  const seen = new Map<string, { index: number; text: string }>();
  hosts.forEach((entry, index) => {
    const isObject = typeof entry === 'object' && entry !== null;
    const text = isObject ? (entry as { address?: unknown }).address : entry;
    if (typeof text !== 'string') return;
    const parsed = parseAddress(text);
    if (!parsed.ok) return;
    const server = `${parsed.value.hostname.toLowerCase()}:${parsed.value.port}`;
    const first = seen.get(server);
    if (!first) return void seen.set(server, { index, text });
    ctx.addIssue({
      code: 'custom',
      path: isObject ? [index, 'address'] : [index],
      message: `duplicate host: ${JSON.stringify(text)} is the same server as hosts[${first.index}] ${JSON.stringify(first.text)}`,
      params: { hint: 'list each server once; to run more containers on one server, set instances on it' },
    });
  });
}

export const hosts = z
  .array(z.union([hostAddress, hostObject], { error: `expected ${ADDRESS_FORMAT} or a map with an address` }), {
    error: 'expected a list of hosts',
  })
  .min(1, { error: 'expected at least one host' })
  // Runs even when some entries are invalid, so a duplicate is reported together with the other problems.
  .superRefine(uniqueHosts, { when: (payload) => Array.isArray(payload.value) })
  .describe('Servers to deploy to: "[user@]host[:port]" or { address, identity_file, known_hosts, jump, instances, relay_address, private_address }.');
