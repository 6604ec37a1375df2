/**
 * The field builders every section of the boxship.yml schema shares: numbers in a range, IP addresses, paths, image references,
 * env names and values, SSH addresses, durations, volumes. Each returns a new schema, so the JSON Schema inlines
 * it where it is used (no $defs), and every custom message starts with "expected ..." (issues.ts appends ", got <value>").
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ADDRESS_FORMAT, ADDRESS_HINT, ADDRESS_PATTERN, parseAddress } from '../address.js';
import { DURATION_FORMAT, DURATION_PATTERN, parseDuration } from '../duration.js';
import { IMAGE_REF_FORMAT, parseImageRef } from '../image-ref.js';
import { STOP_SIGNAL_NAMES, STOP_SIGNALS, stopSignalName } from '../signal.js';

export function wholeNumber(min: number, max: number) {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export function port() {
  const error = 'expected a number from 1 to 65535';
  return z.int({ error }).min(1, { error }).max(65535, { error });
}

/** An IPv4 or IPv6 address (no brackets, no name): what Docker takes to publish a port on. */
export function ipAddress() {
  return z.string({ error: 'expected an IP address' }).refine((value) => isIP(value) !== 0, { error: 'expected an IP address' });
}

export function seconds(max: number) {
  const error = `expected a number of seconds from 0 to ${max}`;
  return z.number({ error }).min(0, { error }).max(max, { error });
}

/** A file on this machine; relative to the folder of boxship.yml, `~/` is the home folder. */
export function localPath() {
  return z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });
}

export function containerPath() {
  const error = 'expected an absolute path inside the container, starting with /';
  // A regex rather than startsWith: the latter becomes a non-standard "format" in the JSON Schema.
  return z.string({ error }).regex(/^\//, { error });
}

/**
 * A volume's mount point (app and accessories): `-v host:path[:mode]` splits on ":", and Swarm's `--mount` is CSV
 * split on "," with key=value fields, where "/d,source=/" would add a second source= (the last wins: the host's /
 * bound into every task); a quote would open a CSV field, a line break end the record.
 */
function mountPath() {
  const error = 'expected an absolute path inside the container, starting with /, without ":", ",", "=", quotes or line breaks';
  return z.string({ error }).regex(/^\/[^:,="'\0\n\r]*$/, { error });
}

/** An image reference: it becomes one word of a docker command on each host, never an option. */
export function imageRef(description: string) {
  return z
    .string({ error: `expected ${IMAGE_REF_FORMAT}` })
    .superRefine((text, ctx) => {
      const result = parseImageRef(text);
      if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message, params: { hint: description } });
    })
    .describe(description);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export function envName() {
  const error = 'expected an environment variable name: letters, digits and _, not starting with a digit';
  return z.string({ error }).regex(ENV_NAME, { error });
}

/**
 * Values of env and build args. YAML turns `1.10` into a number; load.ts hands these maps the scalar's text as
 * written, so numbers and booleans arrive here as strings and String() only covers values built in code.
 */
export function stringValue() {
  return z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string value (write "" for an empty one)' }).transform(String);
}

/**
 * Values that land in the env file on each host, one KEY=VALUE per line: a newline would start a line of its own
 * (a value "x\nNODE_OPTIONS=--require=/tmp/evil.js" sets a second variable), and NUL cannot be passed at all.
 */
export function envValue() {
  const error = 'expected a value without newlines or NUL characters (the env file on the host holds one KEY=VALUE per line)';
  return stringValue().refine((value) => !/[\n\r\0]/.test(value), { error });
}

/** An SSH address. parseAddress is the real check; the pattern only helps editors. */
export function address(description: string) {
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

/**
 * The signal `docker stop` sends first (app, accessories, roles). Absent: the image's
 * STOPSIGNAL, SIGTERM when it has none, as before the field existed.
 */
export function stopSignal(what: string) {
  const error = `expected a stop signal: ${STOP_SIGNALS.join(', ')} (with or without SIG)`;
  return z
    .enum(STOP_SIGNAL_NAMES as [string, ...string[]], { error })
    .transform(stopSignalName)
    .optional()
    .describe(
      `Signal that asks ${what} to shut down, sent by every stop (a rollout's drain, rollback, restart, remove), e.g. SIGQUIT for nginx or php-fpm, SIGINT for an app that stops cleanly only on Ctrl-C; still running stop_timeout_seconds later, it is killed. Absent: the image's STOPSIGNAL, else SIGTERM.`,
    );
}

export function duration(fallback: string, description: string) {
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

const VOLUME_RE = /^[a-z0-9][a-z0-9_-]*$/;

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
export function volumes(description: string) {
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

/** A host of `hosts:`, named as written there (or by its host name); the converters check that it is one. */
export function hostRef() {
  return z.string({ error: 'expected a host from hosts:' }).min(1, { error: 'expected a host from hosts:' });
}

/** A container's command (accessories, roles): the words of a list as they are, or a string's words split at spaces (no shell). */
export function command() {
  const error = 'expected a command: a list of words, or a string of words separated by spaces';
  return z.union(
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
  );
}
