// The layers, in the order the pipeline runs them.

import { dataplane } from './dataplane.js';
import { dns } from './dns.js';
import { endpoints } from './endpoints.js';
import { grant } from './grant.js';
import { internalLayers } from './internal.js';
import { listener } from './listener.js';
import { mesh } from './mesh.js';
import { proxy } from './proxy.js';
import { route } from './route.js';
import type { Check } from '../src/check.js';

export const LAYERS: readonly Check[] = [dns, proxy, listener, route, grant, endpoints, mesh, dataplane];

/** --internal hosts: the same layer ids, each proving the host is NOT served publicly (checks/internal.ts). */
export const INTERNAL_LAYERS: readonly Check[] = internalLayers(dns);
