/**
 * The parts of the written boxship.yml that come from a compose file: the app's env and volumes, the accessories,
 * the secrets files' lines, and the notes on what was left out (pure). Kept apart from render.ts, which writes the
 * file's frame whether or not there is a compose file.
 */
import { stringify } from 'yaml';
import { STOP_SIGNAL_NAMES, STOP_SIGNALS, stopSignalName } from '../config/signal.js';
import type { ComposeAccessory, ComposeApp, ComposeFacts } from './compose.js';

const scalar = (v: string | number): string => stringify(v).trimEnd();
const comment = (text: string, width = 35): string => text.padEnd(width);
/** A note as a comment line: one line, whatever the compose file held. */
const note = (indent: number, text: string): string => `${' '.repeat(indent)}# ${text.replace(/\s*\n\s*/g, ' ')}`;

/** The secrets file of an accessory: its own, so the app's secrets never reach it (nor its the app). */
function accessorySecretsFile(a: ComposeAccessory): string {
  return `.env.${a.name}`;
}

/** `env:` and `volumes:` lines of the app or an accessory, at `indent`. */
function envAndVolumes(indent: number, m: Pick<ComposeApp, 'env' | 'volumes'>, emptyEnv?: string): string[] {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  const env = Object.entries(m.env);
  if (env.length) out.push(`${pad}env:`, ...env.map(([k, v]) => `${pad}  ${scalar(k)}: ${scalar(v)}`));
  else if (emptyEnv) out.push(emptyEnv);
  const volumes = Object.entries(m.volumes);
  if (volumes.length) {
    out.push(`${pad}volumes:`);
    for (const [name, v] of volumes) out.push(`${pad}  ${scalar(name)}: ${v.readOnly ? `{ path: ${scalar(v.path)}, mode: ro }` : scalar(v.path)}`);
  }
  return out;
}

/** The app: lines under `app:` after `port:`, for env, secrets and volumes (compose's, or the usual placeholders). */
export function appLines(app: ComposeApp | undefined, secretsFile: string): string[] {
  const secrets = Object.keys(app?.secrets ?? {});
  const out = envAndVolumes(2, app ?? { env: {}, volumes: {} }, '  env: {}                           # e.g. { LOG_LEVEL: info }');
  out.push(
    `${comment(`  secrets_file: ${scalar(secretsFile)}`)} # ${secrets.length ? `holds ${secrets.join(', ')} (from compose); ` : ''}KEY=VALUE lines, git-ignored, written to each host in a 0600 file`,
  );
  if (!app || !Object.keys(app.volumes).length) out.push('  # volumes: { data: /app/data }    # kept across releases in ~/.boxship/<service>/volumes/<name>');
  if (app?.stopSignal) {
    // compose's own spelling (INT, SIGINT); one boxship does not take (a number, SIGKILL) stays a comment.
    const written = app.stopSignal.trim().toUpperCase();
    if (STOP_SIGNAL_NAMES.includes(written)) out.push(`  stop_signal: ${stopSignalName(written)}              # from compose`);
    else out.push(`  # stop_signal: ${app.stopSignal.replace(/\s+/g, ' ')} (compose; boxship takes ${STOP_SIGNALS.join(', ')})`);
  }
  return out;
}

/** The `accessories:` section, or nothing. */
export function accessoryLines(compose: ComposeFacts | undefined): string[] {
  if (!compose?.accessories.length) return [];
  const out = ['', `accessories:                        # the services of ${compose.file} that run an image`];
  for (const a of compose.accessories) {
    out.push(`${comment(`  ${a.name}:`)} # services.${a.composeName}`);
    out.push(
      `${comment(`    image: ${scalar(a.image)}`)} # must be in this machine's Docker engine (docker pull ${a.image.replace(/\s/g, '')}): shipped, never pulled there`,
    );
    if (a.port !== undefined) out.push(`${comment(`    port: ${a.port}`)} # the app reaches it as ${a.name}:${a.port}`);
    out.push(...envAndVolumes(4, a));
    if (Object.keys(a.secrets).length) {
      out.push(`${comment(`    secrets_file: ${scalar(accessorySecretsFile(a))}`)} # holds ${Object.keys(a.secrets).join(', ')} (from compose)`);
    }
    if (a.cmd) out.push(`    cmd: [${a.cmd.map((w) => scalar(w)).join(', ')}]`);
    for (const n of a.notes) out.push(note(4, n));
  }
  return out;
}

/** The `roles:` section (workers built from the app's image), or nothing. */
export function roleLines(compose: ComposeFacts | undefined): string[] {
  if (!compose?.roles.length) return [];
  const out = ['', `roles:                              # the services of ${compose.file} built as the app is, with a command of their own`];
  for (const r of compose.roles) {
    out.push(`${comment(`  ${r.name}:`)} # services.${r.composeName}`);
    out.push(`    cmd: [${r.cmd.map((w) => scalar(w)).join(', ')}]`);
    if (r.instances !== undefined) out.push(`    instances: ${r.instances}`);
    const env = Object.entries(r.env);
    if (env.length) out.push('    env:', ...env.map(([k, v]) => `      ${scalar(k)}: ${scalar(v)}`));
    if (r.stopSignal) {
      const written = r.stopSignal.trim().toUpperCase();
      if (STOP_SIGNAL_NAMES.includes(written)) out.push(`    stop_signal: ${stopSignalName(written)}`);
      else out.push(`    # stop_signal: ${r.stopSignal.replace(/\s+/g, ' ')} (compose; boxship takes ${STOP_SIGNALS.join(', ')})`);
    }
    if (r.healthCmd) out.push(`    healthcheck: { cmd: [${r.healthCmd.map((w) => scalar(w)).join(', ')}] }`);
    else out.push(`${comment('    # healthcheck: { cmd: [...] }', 35)} # none in compose: healthy once still running after 5s`);
    for (const n of r.notes) out.push(note(4, n));
  }
  return out;
}

/** The comment block on what the compose file holds that boxship.yml does not. */
export function composeNotes(compose: ComposeFacts | undefined): string[] {
  if (!compose) return [];
  const notes = [...compose.notes, ...(compose.app?.notes ?? [])];
  if (!notes.length) return [];
  return ['', `# Not mapped from ${compose.file} (boxship has no place for it, or it needs you to decide):`, ...notes.map((n) => note(0, `  ${n}`))];
}

/** The secrets files' lines: file -> KEY=VALUE lines (a value compose does not have here: a commented line to fill in). */
export function secretLines(compose: ComposeFacts | undefined, appSecretsFile: string): Record<string, string[]> {
  const lines = (secrets: Record<string, string>) =>
    Object.entries(secrets).map(([k, v]) => (v === '' ? `# ${k}=   (compose takes it from elsewhere: fill it in)` : `${k}=${v.replace(/[\r\n]/g, '')}`));
  const out: Record<string, string[]> = {};
  if (compose?.app && Object.keys(compose.app.secrets).length) out[appSecretsFile] = lines(compose.app.secrets);
  for (const a of compose?.accessories ?? []) if (Object.keys(a.secrets).length) out[accessorySecretsFile(a)] = lines(a.secrets);
  return out;
}
