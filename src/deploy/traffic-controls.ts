import { randomBytes } from 'node:crypto';
import type { Actor, Clock } from '../shared/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { Runtime, RuntimeMaintenance } from './runtime.ts';
import { auditEntry, mustGetInstance } from '../store/index.ts';

/** How to reach the idle slot with a preview token (returned once, when it is set). */
export interface PreviewAccess {
  instance: string;
  token: string;
  /** Send the token in this request header… */
  header: 'x-cutover-preview';
  /** …or open this path once on the instance's host: it sets a preview cookie and redirects to `/`. */
  path: string;
  /** The colour and version the preview reaches now, if the idle slot runs. */
  reaches: { color: string; version: string } | null;
}

/**
 * Operator switches on an instance's traffic that act on the runtime at once and are audited:
 * the preview token (the idle slot before the flip, for smoke tests and people trying the new
 * version) and maintenance mode (every request gets a 503 page). Tokens never reach the audit log.
 */
export function createTrafficControls(deps: { store: Store; runtime: Pick<Runtime, 'setPreview' | 'setMaintenance'>; clock: Clock }) {
  const { store, runtime, clock } = deps;

  function audit(instance: InstanceRecord, action: string, who: Actor, details: Record<string, unknown>) {
    return store.appendAudit(
      auditEntry(who, action, instance.name, { at: clock.now(), instance: instance.name, app: instance.app, version: instance.currentVersion, details }),
    );
  }

  return {
    /** Sets a preview token (a new random one unless `token` is given) and says how to use it. */
    async openPreview(name: string, who: Actor, token?: string): Promise<PreviewAccess> {
      const instance = await mustGetInstance(store, name);
      const value = token ?? randomBytes(18).toString('base64url');
      await runtime.setPreview(name, value);
      await audit(instance, 'instance.preview.open', who, { generated: token === undefined });
      const idle = instance.activeColor === 'blue' ? 'green' : instance.activeColor === 'green' ? 'blue' : null;
      const slot = idle ? instance.slots[idle] : null;
      return {
        instance: name,
        token: value,
        header: 'x-cutover-preview',
        path: `/.well-known/cutover/preview?token=${encodeURIComponent(value)}`,
        reaches: idle && slot ? { color: idle, version: slot.version } : null,
      };
    },

    async closePreview(name: string, who: Actor): Promise<{ instance: string; preview: false }> {
      const instance = await mustGetInstance(store, name);
      await runtime.setPreview(name, null);
      await audit(instance, 'instance.preview.close', who, {});
      return { instance: name, preview: false };
    },

    async setMaintenance(name: string, who: Actor, page: RuntimeMaintenance | null): Promise<{ instance: string; maintenance: boolean }> {
      const instance = await mustGetInstance(store, name);
      await runtime.setMaintenance(name, page);
      await audit(instance, page ? 'instance.maintenance.on' : 'instance.maintenance.off', who, {
        ...(page?.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: page.retryAfterSeconds }),
        ...(page?.html === undefined ? {} : { customPage: true }),
      });
      return { instance: name, maintenance: page !== null };
    },
  };
}

export type TrafficControls = ReturnType<typeof createTrafficControls>;
