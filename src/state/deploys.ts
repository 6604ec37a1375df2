/**
 * What is (or was) serving: one JSON line per completed rollout or rollback in deploys.jsonl. The newest line is
 * the current release; the newest line with another tag is the previous one, which `rollback` returns to.
 */
import type { Command } from '../hosts/command.js';
import { appendJsonLine, parseJsonLines, readFileCommand } from './jsonl.js';

export interface DeployEntry {
  tag: string;
  time: string;
  who: string;
  kind: 'rollout' | 'rollback';
}

const DEPLOYS = 'deploys.jsonl';

export function readDeploys(stateDir: string): Command {
  return readFileCommand('read the deploy history', `${stateDir}/${DEPLOYS}`);
}

export function appendDeploy(stateDir: string, entry: DeployEntry): Command {
  return appendJsonLine(`record that ${entry.tag} is serving`, stateDir, DEPLOYS, entry);
}

export function parseDeploys(text: string): DeployEntry[] {
  return parseJsonLines<DeployEntry>(text, (e) => typeof e.tag === 'string');
}

export function currentAndPrevious(entries: DeployEntry[]): { current?: string; previous?: string } {
  const current = entries[entries.length - 1]?.tag;
  const previous = [...entries].reverse().find((e) => e.tag !== current)?.tag;
  return { current, previous };
}
