/**
 * The one zod schema of boxship.yml as users write it (snake_case keys), composed from one module per section in
 * schema/ (their shared field builders in schema/fields.ts). It is used three ways:
 * - load.ts validates with it (strict objects, so a typo in a key is an error, not a silently ignored setting),
 * - its .describe() texts are the hints in error messages,
 * - jsonSchema() turns it into schema/boxship.schema.json, so editors show the same texts and catch the same typos.
 * Checks that need the file system (does the Dockerfile exist?) live in convert.ts, not here.
 * Every custom message starts with "expected ..."; issues.ts appends ", got <value>".
 */
import { z } from 'zod';
import { accessories } from './schema/accessories.js';
import { app, healthcheck } from './schema/app.js';
import { build } from './schema/build.js';
import { wholeNumber } from './schema/fields.js';
import { hooks } from './schema/hooks.js';
import { hosts, ssh } from './schema/hosts.js';
import { proxy } from './schema/proxy.js';
import { roles } from './schema/roles.js';
import { releases, ship } from './schema/ship.js';
import { swarm } from './schema/swarm.js';
import { SERVICE_RE, SERVICE_RULE } from './service-name.js';

export const SCHEMA_ID = 'urn:boxship:schema:boxship.yml';

export const rawConfigSchema = z
  .strictObject({
    service: z
      .string({ error: 'expected a service name' })
      .regex(SERVICE_RE, { error: `expected a service name: ${SERVICE_RULE}` })
      .describe('Service name, used for image, container, network and state-dir names, e.g. hello.'),
    backend: z
      .enum(['hosts', 'swarm'], { error: 'expected hosts or swarm' })
      .default('hosts')
      .describe(
        'hosts (default): boxship runs the containers on each host itself. swarm: the hosts are the nodes of a Docker Swarm, and the service is a Swarm service (see swarm:).',
      ),
    build,
    ssh,
    hosts,
    instances: wholeNumber(1, 20).default(1).describe('Instances (containers) of the service per host.'),
    app,
    healthcheck,
    proxy,
    releases,
    ship,
    hooks,
    accessories,
    roles,
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
