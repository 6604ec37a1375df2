/**
 * `swarm:` of boxship.yml: how the service runs with backend: swarm. Whether the manager is one of the hosts is
 * checked in convert.ts, which sees the resolved hosts.
 */
import { z } from 'zod';
import { ADDRESS_FORMAT } from '../address.js';
import { wholeNumber } from './fields.js';

/** A Swarm placement constraint, as `docker service create --constraint` takes it. */
const CONSTRAINT_RE = /^(node\.(id|hostname|role|platform\.os|platform\.arch|labels\.[A-Za-z0-9_.-]+)|engine\.labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*[^\s=!]+$/;

export const swarm = z
  .strictObject({
    manager: z
      .string({ error: `expected ${ADDRESS_FORMAT}` })
      .min(1, { error: `expected ${ADDRESS_FORMAT}` })
      .optional()
      .describe(
        'The host (written as in hosts:) whose Docker engine is a swarm manager: service commands, the deploy lock and the audit log go there. Default: the first host.',
      ),
    replicas: wholeNumber(1, 1000).optional().describe('Tasks of the service across the swarm. Default: one per host.'),
    constraints: z
      .array(
        z.string({ error: 'expected a placement constraint' }).regex(CONSTRAINT_RE, {
          error:
            'expected a placement constraint: node.id|node.hostname|node.role|node.platform.os|node.platform.arch|node.labels.<k>|engine.labels.<k>, then == or !=, then a value',
        }),
        { error: 'expected a list of placement constraints' },
      )
      .default([])
      .describe(
        'Placement constraints of the service (docker service create --constraint), e.g. node.labels.web == true. Releases are shipped to the nodes that match.',
      ),
  })
  .optional()
  .describe('With backend: swarm, how the service runs on the swarm. Every node of the swarm must be listed in hosts.');
