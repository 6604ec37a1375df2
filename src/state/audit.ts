/** An append-only audit log on each host: every action that changed what serves, who did it and how it ended. */
import type { Command } from '../hosts/command.js';
import { appendJsonLine } from './jsonl.js';

export interface AuditEntry {
  time: string;
  who: string;
  command: string;
  host: string;
  outcome: string;
  detail?: string;
}

export function appendAudit(stateDir: string, entry: AuditEntry): Command {
  return appendJsonLine('append to the audit log', stateDir, 'audit.log', entry);
}
