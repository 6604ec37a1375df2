/**
 * The edge part of a service's setup on one host, in two phases so that a refusal changes nothing: checkEdge reads
 * (the edge's state, routes and settings) and refuses a host name another service serves, other edge ports, or
 * another ACME CA while other services use the current one; applyEdge then starts the edge if the server has none,
 * routes the service's names to its router's socket (files, no reload), and obtains the certificates now rather than
 * at a client's first handshake. A reload happens only when a server-wide setting changes (edge/caddy.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Site } from '../config/types.js';
import type { DeployContext } from '../fleet/context.js';
import type { Runner } from '../hosts/runner.js';
import { InputError } from '../util/errors.js';
import { type EdgeSettings, edgeConfigText } from './caddy.js';
import { lastCertificateError, parseCertificates } from './certs.js';
import {
  certificateLog,
  edgeState,
  edgeSyntaxes,
  hashEdgeFile,
  type EdgeState,
  listRoutes,
  parseEdgeState,
  portsLabel,
  readCertificates,
  readEdgeFile,
  removeRoute,
  triggerCertificate,
  writeEdgeFile,
  writeRoute,
} from './commands.js';
import { ensureGeneration } from './generation.js';
import { EDGE_CA_ROOT_FILE, EDGE_DIR, EDGE_SETTINGS_FILE, edgeConfigFiles, slotPorts } from './layout.js';
import { type EdgeRoutes, hostSettings, markersOf, parseRoutes, planRoutes, type RoutePlan } from './routes.js';

export interface EdgeCheck {
  state: EdgeState;
  routes: EdgeRoutes;
  plan: RoutePlan;
  stored?: EdgeSettings;
}

/** Reads only. Undefined: the service has nothing to do with an edge on this host. */
export async function checkEdge(ctx: DeployContext, ssh: Runner): Promise<EdgeCheck | undefined> {
  const { service } = ctx.config;
  const site = ctx.config.proxy.site;
  const state = parseEdgeState(await ssh.run(edgeState()));
  const running = state.status === 'running' || state.legacy?.state === 'running';
  if (!site && !running) return undefined;
  const [routesText, settingsText] = running
    ? await Promise.all([ssh.run(listRoutes()), ssh.run(readEdgeFile(EDGE_SETTINGS_FILE, 'read the edge settings'))])
    : ['', ''];
  const routes = parseRoutes(routesText);
  const stored = parseSettings(settingsText);
  const plan = planRoutes(service, site, routes);
  if (!site) return plan.remove.length ? { state, routes, plan, ...(stored ? { stored } : {}) } : undefined;

  const conflicts = [...plan.conflicts];
  const want = portsLabel(site.edge.httpPort, site.edge.httpsPort);
  if ('ports' in state && state.ports && state.ports !== want) {
    conflicts.push(`the edge here listens on ports ${state.ports.replace(',', ' and ')}, and proxy.edge asks for ${want.replace(',', ' and ')}`);
  }
  const othersOnAuto = routes.entries.some((e) => e.service !== service && routes.hosts.get(e.host)?.tls === 'auto');
  if (site.tls.mode === 'auto' && stored && othersOnAuto && !sameAcme(stored.acme, acmeOf(site))) {
    conflicts.push(
      `the edge here gets certificates from ${stored.acme.ca ?? "Let's Encrypt"} for other services, and proxy.acme asks for ${site.acme.ca ?? "Let's Encrypt"}`,
    );
  }
  if (conflicts.length) {
    throw new InputError(`${ssh.name}: ${conflicts.join('; ')}`, {
      hint: 'pick another host name (or path_prefix), or remove it from the other service first (boxship remove there); nothing was changed',
    });
  }
  return { state, routes, plan, ...(stored ? { stored } : {}) };
}

/** After the service's proxy runs (its router listens on the edge socket): the edge, the routes, the certificates. */
export async function applyEdge(ctx: DeployContext, ssh: Runner, check: EdgeCheck): Promise<void> {
  const { config } = ctx;
  const site = config.proxy.site;
  const slot = site ? await ensureEdge(ctx, ssh, check, site) : undefined;
  const settings = site ? hostSettings(config.service, site) : undefined;
  for (const w of check.plan.write) {
    await ssh.run(
      writeRoute({
        host: w.host,
        ...(w.pathPrefix ? { pathPrefix: w.pathPrefix } : {}),
        service: config.service,
        siteJson: JSON.stringify(settings),
        markers: markersOf(settings!),
      }),
    );
  }
  for (const r of check.plan.remove) await ssh.run(removeRoute(r.host, r.entry));
  if (check.plan.write.length)
    ctx.report({
      kind: 'step',
      host: ssh.name,
      message: `edge routes ${check.plan.write.map((w) => `${w.host}${w.pathPrefix ?? ''}`).join(', ')} to ${config.service}`,
    });
  if (check.plan.remove.length)
    ctx.report({ kind: 'step', host: ssh.name, message: `edge no longer routes ${check.plan.remove.map((r) => r.host).join(', ')} to ${config.service}` });
  if (site?.tls.mode === 'auto' && slot !== undefined) await obtainCertificates(ctx, ssh, site, slot);
}

/** The server-wide settings after this service's change: its ports and CA, and the names each TLS mode covers. */
function settingsAfter(service: string, site: Site, check: EdgeCheck): EdgeSettings {
  const internal = new Set<string>();
  const files = new Set<string>();
  for (const [host, s] of check.routes.hosts) {
    if (s.service === service) continue;
    if (check.routes.entries.some((e) => e.host === host && e.service !== service)) {
      if (s.tls === 'internal') internal.add(host);
      if (s.tls === 'files') files.add(host);
    }
  }
  for (const h of site.hosts) (site.tls.mode === 'internal' ? internal : site.tls.mode === 'files' ? files : new Set<string>()).add(h);
  const acme = site.tls.mode === 'auto' || !check.stored ? acmeOf(site) : check.stored.acme;
  return { httpPort: site.edge.httpPort, httpsPort: site.edge.httpsPort, acme, internal: [...internal].sort(), files: [...files].sort() };
}

/** The edge running with this service's settings; returns the slot of the generation that takes new connections. */
async function ensureEdge(ctx: DeployContext, ssh: Runner, check: EdgeCheck, site: Site): Promise<number> {
  const settings = settingsAfter(ctx.config.service, site, check);
  return ensureGeneration(ctx, ssh, check.state, {
    httpPort: settings.httpPort,
    httpsPort: settings.httpsPort,
    image: ctx.config.proxy.image,
    ...(site.edge.image ? { pinnedImage: site.edge.image } : {}),
    writeFiles: async (slot) => {
      // The files the config names, before the config.
      if (site.acme.caRootPem) await writeIfChanged(ssh, EDGE_CA_ROOT_FILE, site.acme.caRootPem, 'write the ACME CA root');
      if (site.tls.mode === 'files') {
        for (const host of site.hosts) {
          await writeIfChanged(ssh, `${EDGE_DIR}/certs/${host}.crt`, readFileSync(site.tls.certFile, 'utf8'), `write the certificate of ${host}`);
          // The key travels on stdin only (never argv), into a root-only file.
          await writeIfChanged(ssh, `${EDGE_DIR}/certs/${host}.key`, readFileSync(site.tls.keyFile, 'utf8'), `write the key of ${host}`, true);
        }
      }
      return writeEdgeConfig(ssh, settings, check.stored, slot);
    },
  });
}

/** Writes the edge's settings and a slot's config files; true when the config changed (a new generation is due). */
async function writeEdgeConfig(ssh: Runner, settings: EdgeSettings, stored: EdgeSettings | undefined, slot: number): Promise<boolean> {
  const changed = await Promise.all(
    edgeSyntaxes.map(async (syntax) => {
      const file = edgeConfigFiles(slot)[syntax];
      const text = edgeConfigText(settings, syntax, slot);
      if ((await ssh.run(readEdgeFile(file, 'read the edge config'))) === text) return false;
      await ssh.run(writeEdgeFile(file, 'write the edge config'), text);
      return true;
    }),
  );
  if (JSON.stringify(stored) !== JSON.stringify(settings))
    await ssh.run(writeEdgeFile(EDGE_SETTINGS_FILE, 'record the edge settings'), JSON.stringify(settings));
  return changed.some(Boolean);
}

async function writeIfChanged(ssh: Runner, path: string, text: string, why: string, secret = false): Promise<void> {
  const digest = createHash('sha256').update(text).digest('hex');
  if ((await ssh.run(hashEdgeFile(path))).trim() === digest) return;
  await ssh.run(writeEdgeFile(path, why, { private: secret }), text);
}

/** Triggers issuance for the names without a certificate, then says what each has (or why it has none). */
async function obtainCertificates(ctx: DeployContext, ssh: Runner, site: Site, slot: number): Promise<void> {
  if (ssh.dryRun) {
    ssh.note(`obtain certificates for ${site.hosts.join(', ')} (on demand, from ${site.acme.ca ?? "Let's Encrypt"})`);
    return;
  }
  const have = new Set(parseCertificates(await ssh.run(readCertificates(site.hosts))).map((c) => c.host));
  const missing = site.hosts.filter((h) => !have.has(h));
  if (!missing.length) return;
  ctx.report({ kind: 'step', host: ssh.name, message: `obtaining certificates for ${missing.join(', ')}` });
  await Promise.all(missing.map((h) => ssh.exec(triggerCertificate(h, slotPorts(slot).https), { timeoutMs: 120_000 })));
  const got = new Map(parseCertificates(await ssh.run(readCertificates(missing))).map((c) => [c.host, c]));
  const log = missing.some((h) => !got.has(h)) ? await ssh.run(certificateLog()) : '';
  for (const h of missing) {
    const c = got.get(h);
    if (c) ctx.report({ kind: 'step', host: ssh.name, message: `certificate for ${h} from ${c.issuer}, valid until ${c.notAfter.slice(0, 10)}` });
    else
      ctx.report({
        kind: 'warning',
        host: ssh.name,
        message: `no certificate for ${h} yet: ${lastCertificateError(log, h) ?? 'the CA gave no answer in time'}; the edge tries again at the next HTTPS request`,
      });
  }
}

function acmeOf(site: Site): EdgeSettings['acme'] {
  return {
    ...(site.acme.ca ? { ca: site.acme.ca } : {}),
    ...(site.acme.email ? { email: site.acme.email } : {}),
    ...(site.acme.caRootPem ? { caRoot: true } : {}),
  };
}

const sameAcme = (a: EdgeSettings['acme'], b: EdgeSettings['acme']) =>
  (a.ca ?? '') === (b.ca ?? '') && (a.email ?? '') === (b.email ?? '') && !!a.caRoot === !!b.caRoot;

function parseSettings(text: string): EdgeSettings | undefined {
  try {
    return text.trim() ? (JSON.parse(text) as EdgeSettings) : undefined;
  } catch {
    return undefined;
  }
}
