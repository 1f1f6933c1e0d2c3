import { z } from 'zod';
import { CutoverError, validate } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a host name like shop.example.com');

/** The body of `POST /api/instances` and the arguments of `cutover instance create`. */
export const createInstanceSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter'),
    app: z.string().min(1, 'is required'),
    hosts: z.array(hostname).min(1, 'needs at least one host name'),
    environment: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a lowercase word like production or test').default('production'),
  })
  .strict();

export type CreateInstanceInput = z.input<typeof createInstanceSchema>;

/** Creates an instance of a published app. Refuses unknown apps, taken names and taken host names. */
export async function createInstance(
  deps: { store: Store; clock: Clock },
  input: unknown,
  actor: string,
): Promise<InstanceRecord> {
  const parsed = validate(createInstanceSchema, input, 'The instance');
  const { name, app, environment } = parsed;
  const hosts = [...new Set(parsed.hosts.map((h) => h.toLowerCase()))];
  const apps = await deps.store.listApps();
  if (!apps.includes(app)) {
    throw new CutoverError(
      'APP_NOT_FOUND',
      `no app named "${app}" has a release yet` + (apps.length ? `; known apps: ${apps.join(', ')}` : '; publish a release first'),
      { details: { app } },
    );
  }
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
    currentVersion: null,
    activeColor: null,
    slots: { blue: null, green: null },
    createdAt: now,
    updatedAt: now,
  };
  if (!(await deps.store.insertInstance(instance))) {
    throw new CutoverError('INSTANCE_EXISTS', `an instance named "${name}" already exists`, { details: { instance: name } });
  }
  await deps.store.appendAudit({ at: now, actor, action: 'instance.create', subject: name, details: { app, hosts, environment } });
  return instance;
}
