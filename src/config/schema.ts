/**
 * The one zod schema of boxship.yml as users write it (snake_case keys). It is used three ways:
 * - load.ts validates with it (strict objects, so a typo in a key is an error, not a silently ignored setting),
 * - its .describe() texts are the hints in error messages,
 * - jsonSchema() turns it into schema/boxship.schema.json, so editors show the same texts and catch the same typos.
 * Checks that need the file system (does the Dockerfile exist?) live in convert.ts, not here.
 * Every custom message starts with "expected ..."; issues.ts appends ", got <value>".
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ADDRESS_FORMAT, ADDRESS_HINT, ADDRESS_PATTERN, parseAddress } from './address.js';
import { DURATION_FORMAT, DURATION_PATTERN, parseDuration } from './duration.js';
import { IMAGE_REF_FORMAT, parseImageRef } from './image-ref.js';

export const SCHEMA_ID = 'urn:boxship:schema:boxship.yml';
const DEFAULT_PROXY_IMAGE = 'boxship-proxy:caddy-2.6.2';

function wholeNumber(min: number, max: number) {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function port() {
  const error = 'expected a number from 1 to 65535';
  return z.int({ error }).min(1, { error }).max(65535, { error });
}

function seconds(max: number) {
  const error = `expected a number of seconds from 0 to ${max}`;
  return z.number({ error }).min(0, { error }).max(max, { error });
}

/** A file on this machine; relative to the folder of boxship.yml, `~/` is the home folder. */
function localPath() {
  return z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });
}

function containerPath() {
  const error = 'expected an absolute path inside the container, starting with /';
  // A regex rather than startsWith: the latter becomes a non-standard "format" in the JSON Schema.
  return z.string({ error }).regex(/^\//, { error });
}

/** A volume's mount point: `-v host:path[:mode]` splits on ":", so a ":" in the path would smuggle in options. */
function mountPath() {
  const error = 'expected an absolute path inside the container, starting with / and without ":"';
  return z.string({ error }).regex(/^\/[^:\0\n]*$/, { error });
}

/** An image reference: it becomes one word of a docker command on each host, never an option. */
function imageRef(description: string) {
  return z
    .string({ error: `expected ${IMAGE_REF_FORMAT}` })
    .superRefine((text, ctx) => {
      const result = parseImageRef(text);
      if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message, params: { hint: description } });
    })
    .describe(description);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
function envName() {
  const error = 'expected an environment variable name: letters, digits and _, not starting with a digit';
  return z.string({ error }).regex(ENV_NAME, { error });
}

/**
 * Values of env and build args. YAML turns `1.10` into a number; load.ts hands these maps the scalar's text as
 * written, so numbers and booleans arrive here as strings and String() only covers values built in code.
 */
function stringValue() {
  return z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string value (write "" for an empty one)' }).transform(String);
}

/**
 * Values that land in the env file on each host, one KEY=VALUE per line: a newline would start a line of its own
 * (a value "x\nNODE_OPTIONS=--require=/tmp/evil.js" sets a second variable), and NUL cannot be passed at all.
 */
function envValue() {
  const error = 'expected a value without newlines or NUL characters (the env file on the host holds one KEY=VALUE per line)';
  return stringValue().refine((value) => !/[\n\r\0]/.test(value), { error });
}

/** An SSH address. parseAddress is the real check; the pattern only helps editors. */
function address(description: string) {
  return z
    .string({ error: `expected ${ADDRESS_FORMAT}` })
    .superRefine((text, ctx) => {
      const result = parseAddress(text);
      if (!result.ok) {
        ctx.addIssue({ code: 'custom', message: result.message, path: result.part ? [result.part] : [], params: { hint: ADDRESS_HINT } });
      }
    })
    .meta({ description, pattern: ADDRESS_PATTERN, examples: ['deploy@10.0.0.7:2222', 'root@[::1]:22'] });
}

function duration(fallback: string, description: string) {
  const error = `expected a duration: ${DURATION_FORMAT}`;
  return (
    z
      .union([z.number({ error }).positive({ error }), z.string({ error }).regex(new RegExp(DURATION_PATTERN), { error })], { error })
      // Catches what the pattern lets through but is no time at all ("0s"); skipped when the union already failed.
      .refine((value) => parseDuration(value) !== undefined, { error, when: (payload) => payload.issues.length === 0 })
      .default(fallback)
      .describe(description)
  );
}

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

/** Two volumes on one mount point would make docker refuse to start the container. */
function uniqueMounts(volumes: Record<string, unknown>, ctx: z.core.$RefinementCtx<Record<string, unknown>>): void {
  const mountedBy = new Map<unknown, string>();
  for (const [name, entry] of Object.entries(volumes)) {
    const mount = typeof entry === 'object' && entry !== null ? (entry as { path?: unknown }).path : entry;
    const other = mountedBy.get(mount);
    if (other === undefined) mountedBy.set(mount, name);
    else {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `${String(mount)} is already the mount point of volume ${JSON.stringify(other)}`,
        params: { hint: 'give each volume its own container path' },
      });
    }
  }
}

/** Persistent folders on the host, each mounted at a path in the container. */
function volumes(description: string) {
  return z
    .record(
      z.string().regex(VOLUME_RE, { error: 'expected a volume name: lowercase letters, digits, _ and -, starting with a letter or digit' }),
      z.union(
        [
          mountPath(),
          z.strictObject({
            path: mountPath().describe('Absolute path inside the container.'),
            mode: z.enum(['rw', 'ro'], { error: 'expected rw or ro' }).default('rw').describe('rw (default) or ro: mounted read-only.'),
          }),
        ],
        { error: 'expected an absolute path inside the container, or { path, mode: ro }' },
      ),
    )
    .superRefine(uniqueMounts, { when: (payload) => typeof payload.value === 'object' && payload.value !== null })
    .default({})
    .describe(description);
}

const SERVICE_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const VOLUME_RE = /^[a-z0-9][a-z0-9_-]*$/;
const IMAGE_ID_RE = /^sha256:[0-9a-f]{64}$/;
// RFC 9110 token characters.
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const IDENTITY_FILE = 'Private key for SSH, e.g. ~/.ssh/id_ed25519. Absent: keys from the ssh-agent at SSH_AUTH_SOCK.';
const KNOWN_HOSTS = 'known_hosts file the host keys are checked against.';
const JUMP = 'Bastion host the SSH connection goes through, as [user@]host[:port].';

const build = z
  .strictObject({
    context: localPath().default('.').describe('Build context folder, relative to boxship.yml.'),
    dockerfile: localPath().default('Dockerfile').describe('Dockerfile path, relative to the build context.'),
    target: z.string().min(1).optional().describe('Stage of a multi-stage Dockerfile to build (docker build --target).'),
    platform: z
      .string()
      .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, { error: 'expected os/architecture[/variant], e.g. linux/amd64' })
      .optional()
      .describe("Platform to build for (docker build --platform), e.g. linux/amd64: the hosts' platform when this machine's differs."),
    args: z
      .record(z.string().min(1), stringValue())
      .default({})
      .describe('Build arguments (docker build --build-arg), e.g. NODE_IMAGE: node:20-bookworm-slim.'),
    include: z
      .array(localPath(), { error: 'expected a list of file paths' })
      .default([])
      .describe(
        'Files outside git that the build needs (a CA bundle, a generated asset), relative to build.context. The build ' +
          'context is the commit; these are added to it, hashed into the image labels and listed in the build output.',
      ),
    pins: z
      .record(
        z
          .string()
          .min(1)
          .superRefine((text, ctx) => {
            const result = parseImageRef(text);
            if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message });
          }),
        z.string().regex(IMAGE_ID_RE, { error: 'expected a local image ID "sha256:<64 hex digits>"' }),
      )
      .default({})
      .describe(
        'Base images pinned by local image ID: image reference as written in FROM -> "sha256:<64 hex>" ' +
          '(docker image inspect --format {{.Id}} <image>). The build fails if the local image differs.',
      ),
  })
  .prefault({})
  .describe('How the image is built from a Dockerfile on this machine.');

const ssh = z
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
  })
  .describe('A host with its own settings.');

const app = z
  .strictObject({
    port: port().default(3000).describe('Port the app listens on inside its container.'),
    env: z.record(envName(), envValue()).default({}).describe('Environment variables of the app.'),
    secrets_file: localPath()
      .optional()
      .describe('Local KEY=VALUE file (one per line, # comments) whose values are passed to the app as environment variables; kept out of images and logs.'),
    volumes: volumes(
      'Persistent folders: name (a folder in the service state dir on the host) -> absolute path in the container, or { path, mode: ro } to mount it read-only.',
    ),
    config_file: z
      .strictObject({
        env: envName().describe('Environment variable that tells the app where its config file is.'),
        path: containerPath().describe('Absolute path of the config file inside the container.'),
      })
      .optional()
      .describe('Tells the app where its config file is, e.g. { env: APP_CONFIG, path: /app/configs/app.json }.'),
    drain_seconds: seconds(3600).default(2).describe('Seconds an old instance keeps serving in-flight requests after it leaves the proxy.'),
    stop_timeout_seconds: wholeNumber(0, 3600).default(10).describe('Seconds docker stop waits before it kills the container.'),
  })
  .prefault({})
  .describe('How the app runs in its container.');

const healthcheck = z
  .strictObject({
    path: z
      .string({ error: 'expected a URL path starting with /' })
      // RFC 3986 path and query characters only: it becomes a URL for wget in the proxy and for Caddy's checks.
      .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/, { error: 'expected a URL path starting with /, without spaces or control characters' })
      .default('/health')
      .describe('HTTP path that answers 2xx when an instance is ready.'),
    port: port().optional().describe('Port of the health check inside the container; defaults to app.port.'),
    interval: duration('1s', `Time between checks: ${DURATION_FORMAT}.`),
    timeout: duration('2s', `Time one check may take: ${DURATION_FORMAT}.`),
    retries: wholeNumber(1, 1000).default(10).describe('Failed checks before the instance counts as unhealthy and the release is rolled back.'),
  })
  .prefault({})
  .describe('How a new instance is checked before it takes traffic.');

const proxy = z
  .strictObject({
    image: imageRef('Image of the proxy in front of the instances, e.g. boxship-proxy:caddy-2.6.2 or caddy:2.').default(DEFAULT_PROXY_IMAGE),
    port: port().default(8080).describe('Port the proxy listens on, published on the host.'),
    bind: z
      .string({ error: 'expected an IP address' })
      .refine((value) => isIP(value) !== 0, { error: 'expected an IP address' })
      .default('0.0.0.0')
      .describe('Host address the proxy port is published on; 127.0.0.1 keeps it local.'),
    retry_after: wholeNumber(0, 3600).default(5).describe('Seconds in the Retry-After header when no instance can answer.'),
    backoff_header: z
      .string({ error: 'expected an HTTP header name' })
      .regex(HEADER_RE, { error: 'expected an HTTP header name' })
      .default('X-Backoff')
      .describe('Header the proxy adds when it asks clients to back off.'),
  })
  .prefault({})
  .describe('The reverse proxy that switches traffic between releases.');

const releases = z
  .strictObject({
    keep: wholeNumber(2, 100).default(5).describe('Releases (images) kept per host for rollback; older ones are removed.'),
  })
  .prefault({})
  .describe('How many old releases are kept.');

/** A Swarm placement constraint, as `docker service create --constraint` takes it. */
const CONSTRAINT_RE = /^(node\.(id|hostname|role|platform\.os|platform\.arch|labels\.[A-Za-z0-9_.-]+)|engine\.labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*[^\s=!]+$/;

const swarm = z
  .strictObject({
    manager: z
      .string({ error: `expected ${ADDRESS_FORMAT}` })
      .min(1, { error: `expected ${ADDRESS_FORMAT}` })
      .optional()
      .describe(
        'The host (written as in hosts:) whose Docker engine is a swarm manager: service commands, the deploy lock and the audit log go there. Default: the first host.',
      ),
    replicas: wholeNumber(1, 1000).optional().describe('Tasks of the service across the swarm. Default: one per host.'),
    constraints: z
      .array(
        z.string({ error: 'expected a placement constraint' }).regex(CONSTRAINT_RE, {
          error:
            'expected a placement constraint: node.id|node.hostname|node.role|node.platform.os|node.platform.arch|node.labels.<k>|engine.labels.<k>, then == or !=, then a value',
        }),
        { error: 'expected a list of placement constraints' },
      )
      .default([])
      .describe(
        'Placement constraints of the service (docker service create --constraint), e.g. node.labels.web == true. Releases are shipped to the nodes that match.',
      ),
  })
  .optional()
  .describe('With backend: swarm, how the service runs on the swarm. Every node of the swarm must be listed in hosts.');

const ship = z
  .strictObject({
    compression: z
      .enum(['auto', 'gzip', 'zstd', 'none'], { error: 'expected auto, gzip, zstd or none' })
      .default('auto')
      .describe(
        'How layers travel: auto (zstd when this machine has the zstd program and every host runs Docker 23 or later, else gzip), gzip, zstd, or none (for a link faster than the codec). Each layer is compressed once and cached.',
      ),
    relay: z
      .enum(['auto', 'off'], { error: 'expected auto or off' })
      .default('auto')
      .describe(
        'auto: when several hosts lack the same layers, send them once to the first host and let it forward them to the next over SSH (each host needs an SSH key, or a forwarded agent, that the next one accepts; see relay_address); a failed hop falls back to a direct send. off: every host gets its own copy.',
      ),
    relay_agent: z
      .enum(['forward', 'off'], { error: 'expected forward or off' })
      .default('off')
      .describe(
        "off: a relay head opens the next hop with its own SSH key (a deploy key the next host accepts); without one, hosts get direct sends. forward: lend the deployer's ssh-agent to the relay hop's command (only that one), so root on a relay head can use the deployer's keys while it runs.",
      ),
  })
  .prefault({})
  .describe('How images travel to the hosts.');

/** A hook's command: a string run with `sh -c`, or the words of the command (no shell). */
function hookCommand(description: string) {
  const error = 'expected a command: a string (run with sh -c) or a list of words';
  return z
    .union([z.string({ error }).min(1, { error }), z.array(z.string({ error }), { error }).min(1, { error })], { error })
    .optional()
    .describe(description);
}

const hooks = z
  .strictObject({
    pre_release: hookCommand(
      'Run on this machine, in the folder of boxship.yml, before the build; a failure stops the release (exit 1, nothing built or shipped). For checks: tests, lint.',
    ),
    pre_rollout: hookCommand(
      'Run in a one-off container of the new release (app env, secrets, volumes, network) on the first host before any instance moves, e.g. a migration; a failure stops the rollout (exit 1, nothing serving changed).',
    ),
    post_rollout: hookCommand(
      'Run in a one-off container of the new release on the first host after a complete rollout (not after a canary step); a failure is reported (exit 1), the release keeps serving.',
    ),
  })
  .optional()
  .describe('Commands run around a release and a rollout; their output is shown and their exit code reported.');

/** A host of `hosts:`, named as written there (or by its host name); convert.ts checks that it is one. */
function hostRef() {
  return z.string({ error: 'expected a host from hosts:' }).min(1, { error: 'expected a host from hosts:' });
}

/** An accessory's command: the words of a list as they are, or a string's words split at spaces (no shell). */
function accessoryCommand() {
  const error = 'expected a command: a list of words, or a string of words separated by spaces';
  return z
    .union(
      [
        z
          .string({ error })
          .min(1, { error })
          .refine((text) => !/['"\\]/.test(text), {
            error: 'expected words separated by spaces, without quotes or backslashes (no shell splits them: write a list for words with spaces)',
          }),
        z.array(z.string({ error }), { error }).min(1, { error }),
      ],
      { error },
    )
    .optional()
    .describe(
      'Command of the container, replacing the image\'s CMD: a list of words, or a string split at spaces (no shell), e.g. [redis-server, --appendonly, "yes"]. Absent: the image\'s own.',
    );
}

const ACCESSORY_NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

const accessory = z
  .strictObject({
    image: imageRef(
      'Image of the accessory as the Docker engine on this machine names it (docker build -t, docker pull, docker load here), e.g. redis:7.2; shipped to its hosts layer-thin like a release, never pulled there.',
    ),
    host: hostRef().optional().describe('The host it runs on, as written in hosts: (or its host name). Default: the first host.'),
    hosts: z
      .array(hostRef(), { error: 'expected a list of hosts from hosts:' })
      .min(1, { error: 'expected at least one host' })
      .optional()
      .describe('The hosts it runs on, one container on each (each with its own data), as written in hosts:. Default: the first host.'),
    port: port()
      .optional()
      .describe(
        'Port it listens on inside its container: after a start boxship waits until it listens there. The app reaches it as <name>:<port> on the service network; not published on the host unless publish is set.',
      ),
    publish: z
      .string({ error: 'expected an IP address' })
      .refine((value) => isIP(value) !== 0, { error: 'expected an IP address' })
      .optional()
      .describe('Host address to publish port on (the same port number), e.g. 127.0.0.1; absent: reachable only on the service network.'),
    env: z.record(envName(), envValue()).default({}).describe('Environment variables of the accessory.'),
    secrets_file: localPath()
      .optional()
      .describe(
        'Local KEY=VALUE file (one per line, # comments) whose values are passed to the accessory as environment variables; written to its hosts in a 0600 env file, kept out of argv and logs.',
      ),
    volumes: volumes(
      'Data folders kept across restarts, releases and `accessory down`: name (a folder ~/.boxship/<service>/accessories/<accessory>/<name> on the host) -> absolute path in the container, or { path, mode: ro }.',
    ),
    cmd: accessoryCommand(),
    stop_timeout_seconds: wholeNumber(0, 3600)
      .default(30)
      .describe('Seconds docker stop waits for it to shut down cleanly (restart, down, recreate) before it kills it.'),
  })
  .superRefine((value, ctx) => {
    if (value.host !== undefined && value.hosts !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'host and hosts are both set', params: { hint: 'keep one of them' } });
    }
    if (value.publish !== undefined && value.port === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['publish'],
        message: 'publish needs port: it publishes that port',
        params: { hint: 'set port to the port the accessory listens on, or remove publish' },
      });
    }
  })
  .describe('A long-lived companion of the app (a database, a cache), started when missing and never swapped by a rollout.');

const accessories = z
  .record(
    z
      .string()
      .max(40, { error: 'expected an accessory name of at most 40 characters' })
      .regex(ACCESSORY_NAME_RE, { error: 'expected an accessory name: lowercase letters, digits and single -, starting with a letter' }),
    accessory,
  )
  .optional()
  .describe(
    'Long-lived companions of the app, e.g. db: { image, port, volumes }: each runs as the container <service>-<name> on the service network, where the app reaches it by its name; started by setup, rollout and deploy when missing; managed with boxship accessory up|down|restart|logs NAME.',
  );

export const rawConfigSchema = z
  .strictObject({
    service: z
      .string({ error: 'expected a service name' })
      .regex(SERVICE_RE, { error: 'expected a service name: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters' })
      .describe('Service name, used for image, container, network and state-dir names, e.g. hello.'),
    backend: z
      .enum(['hosts', 'swarm'], { error: 'expected hosts or swarm' })
      .default('hosts')
      .describe(
        'hosts (default): boxship runs the containers on each host itself. swarm: the hosts are the nodes of a Docker Swarm, and the service is a Swarm service (see swarm:).',
      ),
    build,
    ssh,
    hosts: z
      .array(z.union([hostAddress, hostObject], { error: `expected ${ADDRESS_FORMAT} or a map with an address` }), {
        error: 'expected a list of hosts',
      })
      .min(1, { error: 'expected at least one host' })
      // Runs even when some entries are invalid, so a duplicate is reported together with the other problems.
      .superRefine(uniqueHosts, { when: (payload) => Array.isArray(payload.value) })
      .describe('Servers to deploy to: "[user@]host[:port]" or { address, identity_file, known_hosts, jump, instances, relay_address }.'),
    instances: wholeNumber(1, 20).default(1).describe('Instances (containers) of the service per host.'),
    app,
    healthcheck,
    proxy,
    releases,
    ship,
    hooks,
    accessories,
    swarm,
  })
  .describe('boxship.yml: how to build one service and deploy it to servers over SSH.');

/** boxship.yml after validation, defaults applied, still snake_case and with relative paths. */
export type RawConfig = z.output<typeof rawConfigSchema>;
export type RawHost = RawConfig['hosts'][number];

/** JSON Schema of boxship.yml for editors (what users may write, so defaulted keys are optional). */
export function jsonSchema(): Record<string, unknown> {
  // draft-07: the draft editors' YAML/JSON language services support best.
  const { $schema, ...rest } = z.toJSONSchema(rawConfigSchema, { io: 'input', target: 'draft-7' });
  return { $schema, $id: SCHEMA_ID, title: 'boxship.yml', ...rest };
}

/** The text of schema/boxship.schema.json: scripts/write-schema.ts writes it, a unit test checks it is current. */
export function jsonSchemaText(): string {
  return `${JSON.stringify(jsonSchema(), null, 2)}\n`;
}
