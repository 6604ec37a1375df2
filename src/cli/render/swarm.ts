/** TEMPORARY stub: replaced by the Swarm renderers (branch h-c). */
import type { DeployResult, MaintenanceResult, ReleaseTargets, SetupResult } from '../../backend/types.js';
import type { SwarmStatusJson } from '../../swarm/status.js';

export function renderSwarmDeploy(_r: DeployResult): void {}
export function renderReleaseTargets(_t: ReleaseTargets): void {}
export function renderSwarmSetup(_r: SetupResult): void {}
export function renderSwarmMaintenance(_r: MaintenanceResult): void {}
export function renderSwarmStatus(_s: SwarmStatusJson): void {}
