/** The commands that change what serves, registered after release/releases/pin. */
import type { Command } from 'commander';
import { registerAccessory } from './accessory.js';
import { registerDeploy } from './deploy.js';
import { registerExec } from './exec.js';
import { registerInit } from './init.js';
import { registerLock } from './lock.js';
import { registerLogs } from './logs.js';
import { registerMaintenance } from './maintenance.js';
import { registerRemove } from './remove.js';
import { registerRollback } from './rollback.js';
import { registerRollout } from './rollout.js';
import { registerSetup } from './setup.js';
import { registerStatus } from './status.js';

export function registerExtraCommands(program: Command): void {
  registerInit(program);
  registerSetup(program);
  registerRollout(program);
  registerDeploy(program);
  registerRollback(program);
  registerMaintenance(program);
  registerStatus(program);
  registerLogs(program);
  registerExec(program);
  registerAccessory(program);
  registerLock(program);
  registerRemove(program);
}
