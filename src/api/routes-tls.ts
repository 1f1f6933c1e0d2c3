import { z } from 'zod';
import { listEdgeCertificateViews, removeEdgeCertificate, setEdgeCertificate, setEdgeCertificateSchema } from '../control/index.ts';
import type { EdgeCertDeps } from '../control/index.ts';
import { CutoverError } from '../shared/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { isoTime } from './schemas.ts';

// Edge certificates (docs/tls.md, issue 21). A key only ever comes in (`PUT`, admin); every
// answer, to any role, names certificates by host, dates and fingerprint.

export const edgeCertificateSchema = z.object({
  host: z.string().describe('The host name it was set for.'),
  isDefault: z.boolean().describe('Serves handshakes with an unknown or absent SNI.'),
  hosts: z.array(z.string()).describe("The leaf's DNS names."),
  fingerprint: z.string().describe("Lowercase hex SHA-256 of the leaf's DER."),
  notAfter: z.iso.datetime(),
  daysLeft: z.number().int(),
  expiresSoon: z.boolean().describe('Expires within 14 days, or has expired.'),
  createdAt: isoTime,
  createdBy: z.string(),
  machines: z.array(z.string()).describe('The machines serving the host: where it is sent.'),
  holding: z.array(z.string()).describe('The machines whose agent acknowledged holding this certificate.'),
});
export const edgeCertificateListSchema = z.object({ certificates: z.array(edgeCertificateSchema) });
export const edgeCertificateSetSchema = z.object({
  certificate: edgeCertificateSchema,
  replaced: z.string().nullable().describe("The fingerprint of the host's previous certificate; null when it had none."),
});
export const edgeCertificateRemovedSchema = z.object({ host: z.string(), fingerprint: z.string() });

export function tlsRoutes(deps: ApiDeps): RouteSpec[] {
  const withKeys = (): EdgeCertDeps => {
    const { keyRing } = deps;
    if (keyRing === undefined) throw new CutoverError('SECRET_KEY_MISSING', 'this server has no app-config key ring to seal certificate keys with');
    return { store: deps.store, clock: deps.clock, keyRing };
  };
  // The machines serving the host get the change now, not at the next sync.
  const changed = () => deps.desiredStateChanged?.();
  return [
    route({
      method: 'get',
      path: '/api/tls',
      role: 'viewer',
      operationId: 'listTlsCertificates',
      summary: 'Edge certificates: hosts, expiry, fingerprint, the machines serving each and those holding it (never a key)',
      tag: 'tls',
      status: 200,
      response: edgeCertificateListSchema,
      handle: async () => ({ certificates: await listEdgeCertificateViews(deps) }),
    }),
    route({
      method: 'put',
      path: '/api/tls',
      role: 'admin',
      operationId: 'setTlsCertificate',
      summary: "Set a host's certificate and key: checked first (key matches, valid now, covers the host), the key sealed; replaces the host's previous pair",
      tag: 'tls',
      body: setEdgeCertificateSchema,
      status: 200,
      response: edgeCertificateSetSchema,
      handle: async ({ body, who }) => {
        const result = await setEdgeCertificate(withKeys(), body, who);
        changed();
        return result;
      },
    }),
    route({
      method: 'delete',
      path: '/api/tls/{host}',
      role: 'admin',
      operationId: 'removeTlsCertificate',
      summary: "Remove a host's certificate: the machines serving it stop offering it",
      tag: 'tls',
      params: z.object({ host: z.string() }),
      status: 200,
      response: edgeCertificateRemovedSchema,
      handle: async ({ params, who }) => {
        const result = await removeEdgeCertificate(deps, params.host, who);
        changed();
        return result;
      },
    }),
  ];
}
