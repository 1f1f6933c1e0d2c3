import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import { checkTarget, environmentField, labelKeyField, labelValueField, targetSchema, tenantField, windowField } from './targets.ts';
import type { Actor } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';

/** A host name an instance is served on (`shop.example.com`). */
export const hostnameField = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a host name like shop.example.com');

/** The body of `POST /api/instances` and the arguments of `cutover instance create`. */
export const createInstanceSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter'),
    app: z.string().min(1, 'is required'),
    hosts: z.array(hostnameField).min(1, 'needs at least one host name'),
    environment: environmentField.default('production'),
    tenant: tenantField.nullable().default(null).describe('The customer this instance belongs to.'),
    labels: z.record(labelKeyField, labelValueField).default({}).describe('Free-form labels for selectors, e.g. {"region": "eu"}.'),
    target: targetSchema.default(null),
    window: windowField.nullable().default(null).describe('Maintenance window; null: the environment default of the fleet policy.'),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type CreateInstanceInput = z.output<typeof createInstanceSchema>;

/** Creates an instance of a published app. Refuses unknown apps, taken names and taken host names. */
export async function createInstance(
  deps: { store: Store; clock: Clock },
  input: CreateInstanceInput,
  who: Actor,
): Promise<InstanceRecord> {
  const { name, app, environment, tenant, labels, target, window } = input;
  const hosts = [...new Set(input.hosts.map((h) => h.toLowerCase()))];
  const apps = await deps.store.listApps();
  if (!apps.includes(app)) {
    throw new CutoverError(
      'APP_NOT_FOUND',
      `no app named "${app}" has a release yet` + (apps.length ? `; known apps: ${apps.join(', ')}` : '; publish a release first'),
      { details: { app } },
    );
  }
  await checkTarget(deps.store, app, target);
  for (const other of await deps.store.listInstances()) {
    const taken = other.hosts.find((h) => hosts.includes(h));
    if (taken && other.name !== name) {
      throw new CutoverError('HOST_IN_USE', `host "${taken}" already routes to instance "${other.name}"`, {
        details: { host: taken, instance: other.name },
      });
    }
  }
  const now = deps.clock.now();
  const instance: InstanceRecord = {
    name,
    app,
    hosts,
    environment,
    tenant,
    labels,
    target,
    window,
    currentVersion: null,
    activeColor: null,
    slots: { blue: null, green: null },
    createdAt: now,
    updatedAt: now,
  };
  if (!(await deps.store.insertInstance(instance))) {
    throw new CutoverError('INSTANCE_EXISTS', `an instance named "${name}" already exists`, { details: { instance: name } });
  }
  await deps.store.appendAudit(auditEntry(who, 'instance.create', name, {
    at: now,
    instance: name,
    app,
    // A target version makes the entry one of that release's (`audit --release V`), as `instance.target` does.
    version: target && 'version' in target ? target.version : null,
    after: { app, hosts, environment, tenant, labels, target, window },
  }));
  return instance;
}
