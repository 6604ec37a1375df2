/**
 * Hosts as OpenSSH resolves them: an alias in `hosts:` brings its HostName, User, Port, IdentityFile and ProxyJump
 * from an OpenSSH client config file (~/.ssh/config or ssh.config_file).
 *
 * The `ssh-config` package tokenises the file (quoting, `=` separators, Host/Match sections). What applies to a host
 * is worked out here rather than with its `compute()`: that one treats `?` as "zero or one character" (OpenSSH: exactly
 * one), compares keywords case-sensitively, evaluates `Match exec` (runs shell commands) and keeps no line numbers,
 * which every error about this file must name. Rules, as ssh_config(5) has them: directives before the first
 * Host apply to every host; a Host line applies when one of its patterns (`*`, `?`, `!negation`) matches the name
 * as written, and no negated one does; for each keyword the first value found wins; keywords are case-insensitive.
 * Match blocks are not supported: their contents are skipped. Include is not followed.
 */
import SSHConfig, { LineType, type Line } from 'ssh-config';

/** A value from the file and the line it is on (1-based), for messages. */
interface SshValue {
  value: string;
  line: number;
}

/** The five directives boxship honours, as they apply to one host; absent when the file does not set them. */
export interface SshHostSettings {
  hostname?: SshValue;
  user?: SshValue;
  port?: SshValue;
  /** Every IdentityFile that applies, in file order (OpenSSH tries them all; boxship uses the first that exists). */
  identityFiles: SshValue[];
  proxyJump?: SshValue;
}

interface Directive {
  keyword: string;
  value: string;
  line: number;
}

interface Section {
  /** Host patterns; undefined for the part before the first Host line (applies to every host). */
  patterns?: string[];
  directives: Directive[];
}

export interface SshConfigFile {
  /** The path as it is shown in messages. */
  file: string;
  sections: Section[];
  /** Lines of Match blocks (skipped). */
  matchLines: number[];
}

const HONOURED = new Set(['hostname', 'user', 'port', 'identityfile', 'proxyjump']);

const newlines = (s: string | undefined) => (s ? s.split('\n').length - 1 : 0);

function valueText(value: string | { val: string }[]): string {
  return typeof value === 'string' ? value : value.map((v) => v.val).join(' ');
}

function valueList(value: string | { val: string }[]): string[] {
  return typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : value.map((v) => v.val);
}

/** Parses the text of an OpenSSH client config; `file` names it in messages. */
export function parseSshConfig(text: string, file: string): SshConfigFile {
  const parsed = SSHConfig.parse(text.replace(/\r\n/g, '\n'));
  const sections: Section[] = [{ directives: [] }];
  const matchLines: number[] = [];
  let line = 1;
  const walk = (lines: readonly Line[], into: Section | undefined) => {
    for (const node of lines) {
      line += newlines(node.before);
      const at = line;
      if (node.type !== LineType.DIRECTIVE) {
        if (node.type === LineType.COMMENT) line += newlines(node.content);
        line += newlines(node.after);
        continue;
      }
      line += newlines(node.after);
      const keyword = node.param.toLowerCase();
      if ('config' in node && (keyword === 'host' || keyword === 'match')) {
        let section: Section | undefined;
        if (keyword === 'host') {
          section = { patterns: valueList(node.value), directives: [] };
          sections.push(section);
        } else {
          matchLines.push(at);
        }
        walk(node.config, section);
        continue;
      }
      if (into && HONOURED.has(keyword)) into.directives.push({ keyword, value: valueText(node.value), line: at });
    }
  };
  walk(parsed, sections[0]);
  return { file, sections, matchLines };
}

/**
 * One OpenSSH pattern: `*` any run of characters, `?` exactly one; host names compare case-insensitively. Matched as
 * OpenSSH's match_pattern does, going back only to the last `*`: at most pattern x name steps. (A regular expression
 * of `.*` runs backtracks exponentially: a pattern of many stars against a long name that does not match took 77 s.)
 */
export function matchPattern(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let from = 0;
  while (j < t.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === t[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      from = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++from;
    } else {
      return false;
    }
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

/** A Host line applies when a pattern matches and no negated one does (ssh_config(5), PATTERNS). */
export function hostMatches(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(p.slice(1), host)) return false;
    } else if (matchPattern(p, host)) {
      matched = true;
    }
  }
  return matched;
}

/** What the file says for `host` (the name as written in boxship.yml): first value wins, IdentityFile accumulates. */
export function settingsFor(config: SshConfigFile, host: string): SshHostSettings {
  const out: SshHostSettings = { identityFiles: [] };
  for (const section of config.sections) {
    if (section.patterns && !hostMatches(section.patterns, host)) continue;
    for (const d of section.directives) {
      const v = { value: d.value, line: d.line };
      if (d.keyword === 'identityfile') out.identityFiles.push(v);
      else if (d.keyword === 'hostname') out.hostname ??= v;
      else if (d.keyword === 'user') out.user ??= v;
      else if (d.keyword === 'port') out.port ??= v;
      else if (d.keyword === 'proxyjump') out.proxyJump ??= v;
    }
  }
  return out;
}

/**
 * The `%` tokens OpenSSH expands in HostName (%h, %%) and IdentityFile (%d home, %u local user, %h host name,
 * %r remote user, %p port, %%), and a leading `~`. Unknown tokens are returned in `unknown`.
 */
export function expandTokens(text: string, tokens: Record<string, string>): { text: string; unknown?: string } {
  let unknown: string | undefined;
  const out = text.replace(/%(.)/g, (all, c: string) => {
    if (c === '%') return '%';
    if (tokens[c] !== undefined) return tokens[c];
    unknown ??= all;
    return all;
  });
  return unknown ? { text: out, unknown } : { text: out };
}
