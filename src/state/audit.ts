/** An append-only audit log on each host: every action that changed what serves, who did it and how it ended. */
import type { Command } from '../hosts/command.js';
import { redact } from '../util/redact.js';
import { appendJsonLine } from './jsonl.js';

export interface AuditEntry {
  time: string;
  who: string;
  command: string;
  host: string;
  outcome: string;
  detail?: string;
}

/** Every field is redacted: the log lives on the hosts, and a detail often quotes an error with an app's output. */
export function appendAudit(stateDir: string, entry: AuditEntry): Command {
  const clean = { ...entry };
  for (const key of Object.keys(clean) as (keyof AuditEntry)[]) {
    const value = clean[key];
    if (typeof value === 'string') clean[key] = redact(value);
  }
  return appendJsonLine('append to the audit log', stateDir, 'audit.log', clean);
}
