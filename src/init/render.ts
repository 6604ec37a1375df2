/**
 * The boxship.yml that `boxship init` writes, from what it saw (pure: facts in, commented YAML out). Every value is
 * written with YAML's own quoting, so a name or path can never break the file.
 */
import { stringify } from 'yaml';
import type { ComposeFacts } from './compose.js';
import type { AppFacts } from './detect.js';
import { accessoryLines, appLines, composeNotes, roleLines } from './render-compose.js';

export const SCHEMA_LINE = '# yaml-language-server: $schema=./node_modules/boxship/schema/boxship.schema.json';

export interface InitOptions {
  /** Hosts to write (as [user@]host[:port]); none: an empty list the user fills in. */
  hosts?: string[];
  /** Base image reference -> local image ID, for build.pins (what `boxship pin` would write). */
  pins?: Record<string, string>;
  /** Base images the Dockerfile uses that have no local image (so no pin yet). */
  unpinned?: string[];
  /** What the folder's compose file says (compose.ts): its app's build, port, env, volumes, health check; accessories. */
  compose?: ComposeFacts;
}

const scalar = (v: string | number): string => stringify(v).trimEnd();

/** `key: value` with a comment aligned at column 36, as in the README. */
function line(indent: number, key: string, value: string | number | undefined, comment?: string): string {
  const text = `${' '.repeat(indent)}${key}:${value === undefined ? '' : ` ${typeof value === 'number' ? value : scalar(value)}`}`;
  return comment ? `${text.padEnd(35)} # ${comment}` : text;
}

export function renderConfig(facts: AppFacts, opts: InitOptions = {}): string {
  const app = opts.compose?.app;
  const from = opts.compose?.file;
  const port = app?.port ?? facts.exposePort ?? 3000;
  const health = app?.health ?? facts.healthcheck;
  const out: string[] = [
    SCHEMA_LINE,
    '# boxship.yml: how this app is built, shipped and run. Written by `boxship init`; see the boxship README,',
    '# "Configuration", for every key. Unknown keys are errors, so a typo never goes unnoticed.',
    ...(app
      ? [
          `# From ${from}: services.${app.name} is the app (it has build:)${opts.compose?.roles.length ? '; those built from its image with a command of their own are roles' : ''}; the services that run an image are accessories.`,
        ]
      : []),
    '',
    line(0, 'service', facts.service, 'names the image, containers, network and state dir'),
    '',
    'build:',
    line(
      2,
      'context',
      app?.context ?? '.',
      facts.git ? `the image is the commit: HEAD of this git repo${app ? ` (from ${from})` : ''}` : 'NOT a git repo yet: run `git init` and commit first',
    ),
    line(
      2,
      'dockerfile',
      facts.dockerfile ?? 'Dockerfile',
      facts.dockerfile ? `found; ${facts.stages} stage${facts.stages === 1 ? '' : 's'}` : 'NOT FOUND: write a Dockerfile first',
    ),
  ];
  if (app?.target) out.push(line(2, 'target', app.target, `the stage ${from} builds (services.${app.name}.build.target)`));
  else if (facts.finalStage) out.push(line(2, 'target', facts.finalStage, 'the last stage, the one that runs'));
  const args = Object.entries(app?.args ?? {});
  if (args.length) out.push(`${'  args:'.padEnd(35)} # from ${from}`, ...args.map(([k, v]) => `    ${scalar(k)}: ${scalar(v)}`));
  if (facts.include.length) out.push(`${`  include: [${facts.include.map(scalar).join(', ')}]`.padEnd(35)} # not in git, but the Dockerfile copies them`);
  const pins = Object.entries(opts.pins ?? {});
  if (pins.length) {
    out.push('  pins:                             # base images pinned by local image ID (`boxship pin` updates them)');
    for (const [ref, id] of pins) out.push(`    ${scalar(ref)}: ${scalar(id)}`);
  } else if (!opts.unpinned?.length) out.push('  # pins: {}                        # `boxship pin` records base image IDs here');
  for (const ref of opts.unpinned ?? []) out.push(`  # not pinned yet, no local image: ${ref.replace(/\n/g, ' ')} (docker pull it, then run: boxship pin)`);
  if (facts.lockfile) out.push(`  # lockfile: ${facts.lockfile} (each release checks the Dockerfile installs from it)`);
  out.push(
    '',
    '# ssh:                              # defaults for every host',
    '#   identity_file: ~/.ssh/id_ed25519 # omit to use ssh-agent (SSH_AUTH_SOCK)',
    '#   known_hosts: ~/.ssh/known_hosts',
    '#   jump: deploy@bastion.example.com',
  );
  if (opts.hosts?.length) {
    out.push('hosts:                              # [user@]host[:port]');
    for (const h of opts.hosts) out.push(`  - ${scalar(h)}`);
  } else {
    out.push('hosts: []                           # FILL IN your servers, e.g. [deploy@10.0.0.5, deploy@10.0.0.6:2222]');
  }
  const portWhy =
    app?.port !== undefined
      ? `from ${app.portFrom} in ${from}`
      : facts.exposePort
        ? 'from EXPOSE in the Dockerfile'
        : 'no EXPOSE found: the port your app listens on';
  const healthWhy = app?.health
    ? `from services.${app.name}.healthcheck in ${from}`
    : facts.healthcheck
      ? 'from HEALTHCHECK in the Dockerfile'
      : 'must answer 2xx when the app is ready';
  out.push(
    line(0, 'instances', 1, 'containers per host; 2 or more keeps serving while one restarts'),
    '',
    'app:',
    line(2, 'port', port, portWhy),
    ...appLines(app, facts.secretsFile),
    '',
    'healthcheck:',
    line(2, 'path', health?.path ?? '/health', healthWhy),
  );
  const hcPort = health?.port;
  if (hcPort !== undefined && hcPort !== port) out.push(line(2, 'port', hcPort, app?.health ? `from ${from}` : 'from HEALTHCHECK'));
  out.push(
    '  interval: 1s',
    '  timeout: 2s',
    line(2, 'retries', 20, 'a new instance has retries x interval to become healthy'),
    '',
    'proxy:',
    line(2, 'port', 8080, 'Caddy on each host listens here and forwards to the instances'),
    ...roleLines(opts.compose),
    ...accessoryLines(opts.compose),
    '',
    line(0, 'releases', undefined),
    line(2, 'keep', 5, 'images kept per host'),
    ...composeNotes(opts.compose),
  );
  return `${out.join('\n')}\n`;
}

/** The three commands to run next, as printed by `boxship init`. */
export function nextCommands(file: string, facts: AppFacts, changedGitignore: boolean, hostsGiven: boolean): string[] {
  const toCommit = [file, ...(changedGitignore ? ['.gitignore'] : [])].join(' ');
  return [
    hostsGiven ? `boxship setup            # check the hosts (SSH, Docker) and prepare them` : `$EDITOR ${file}     # fill in hosts (and check the rest)`,
    `${facts.git ? '' : 'git init && '}git add ${toCommit} && git commit -m "Deploy with boxship"`,
    'boxship deploy',
  ];
}
