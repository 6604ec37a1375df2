/** Commands added by later work register here, so main.ts stays a list of wires. */
import type { Command } from 'commander';

export function registerExtraCommands(_program: Command): void {}
