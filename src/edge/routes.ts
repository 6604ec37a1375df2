/**
 * What a service's setup changes in the edge's routes, decided from the routes the edge has (listRoutes) and the
 * service's `site`, before anything is written: a host name (and prefix) served by another service, or one whose TLS
 * settings another service wrote differently, is refused as a whole, so a refused setup changes nothing anywhere.
 */
import type { Site } from '../config/types.js';
import type { HostMarkers } from './commands.js';
import { entryName } from './layout.js';

/** One route entry on the edge: `host` (+ `entry`: root or p-<segment>) served by `service`. */
interface RouteEntry {
  host: string;
  entry: string;
  service: string;
}

/** A host name's settings as site.json records them (whoever wrote them last). */
export interface HostSettings {
  service: string;
  tls: string;
  redirect: boolean;
  hsts: boolean;
}

export interface EdgeRoutes {
  entries: RouteEntry[];
  hosts: Map<string, HostSettings>;
}

export function parseRoutes(text: string): EdgeRoutes {
  const entries: RouteEntry[] = [];
  const hosts = new Map<string, HostSettings>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const [, host, entry, rest] = m as unknown as [string, string, string, string];
    if (entry === 'site.json') {
      try {
        hosts.set(host, JSON.parse(rest) as HostSettings);
      } catch {
        // A half-written file cannot be: writes are renames. Anything else unreadable counts as no settings.
      }
    } else entries.push({ host, entry, service: rest });
  }
  return { entries, hosts };
}

export function hostSettings(service: string, site: Site): HostSettings {
  const tls = site.tls.mode;
  return { service, tls, redirect: tls !== 'off' && site.redirectHttps, hsts: tls !== 'off' && site.hsts };
}

export function markersOf(s: HostSettings): HostMarkers {
  return { tlsAuto: s.tls === 'auto', redirect: s.redirect, hsts: s.hsts };
}

export interface RoutePlan {
  /** Why the service cannot be routed as boxship.yml says (empty: it can). */
  conflicts: string[];
  /**
   * Entries to write: the service's names it does not serve yet, or whose settings differ. Names it serves as
   * boxship.yml says are left alone, so a rollout (which runs setup) adds no edge write per name.
   */
  write: { host: string; pathPrefix?: string }[];
  /** The service's entries that boxship.yml no longer lists. */
  remove: RouteEntry[];
}

export function planRoutes(service: string, site: Site | undefined, current: EdgeRoutes): RoutePlan {
  const mine = current.entries.filter((e) => e.service === service);
  if (!site) return { conflicts: [], write: [], remove: mine };
  const entry = entryName(site.pathPrefix);
  const want = hostSettings(service, site);
  const conflicts: string[] = [];
  for (const host of site.hosts) {
    const taken = current.entries.find((e) => e.host === host && e.entry === entry && e.service !== service);
    if (taken) conflicts.push(`${host}${site.pathPrefix ?? ''} is already served by the service ${taken.service} on this host`);
    const others = current.entries.filter((e) => e.host === host && e.service !== service);
    const settings = current.hosts.get(host);
    if (others.length && settings && settings.service !== service && !sameSettings(settings, want)) {
      conflicts.push(
        `${host} is shared with the service ${others[0]!.service}, which serves it with tls ${settings.tls}, redirect_https ${settings.redirect}, hsts ${settings.hsts}`,
      );
    }
  }
  const remove = mine.filter((e) => !(site.hosts.includes(e.host) && e.entry === entry));
  const routed = (host: string) => current.entries.some((e) => e.host === host && e.entry === entry && e.service === service);
  const settled = (host: string) => {
    const s = current.hosts.get(host);
    return routed(host) && s !== undefined && sameSettings(s, want);
  };
  const write = site.hosts.filter((host) => !settled(host)).map((host) => ({ host, ...(site.pathPrefix ? { pathPrefix: site.pathPrefix } : {}) }));
  return { conflicts, write, remove };
}

const sameSettings = (a: HostSettings, b: HostSettings) => a.tls === b.tls && a.redirect === b.redirect && a.hsts === b.hsts;
