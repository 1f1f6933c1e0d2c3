import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import { DEFAULT_MAX_ARTIFACT_BYTES, manifestInvalid, releaseSpecSchema } from '../releases/index.ts';
import { publishRelease, releaseDiff } from '../control/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { Answer, pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { listOf, releaseDiffSchema, releaseSchema } from './schemas.ts';

function webBody(body: ReadableStream<Uint8Array> | null): NodeJS.ReadableStream | Buffer {
  return body ? Readable.fromWeb(body as WebReadableStream) : Buffer.alloc(0);
}

const appQuery = z.object({ app: z.string().min(1).optional().describe('The app; needed only when several apps exist.') }).strict();

export function releaseRoutes(deps: ApiDeps): RouteSpec[] {
  const { store } = deps;
  return [
    route({
      method: 'post',
      path: '/api/artifacts',
      role: 'deployer',
      publisher: 'any',
      operationId: 'uploadArtifact',
      summary: 'Upload an artifact',
      description:
        'The body is the packed .tgz. With `digest`, the upload is refused unless the bytes hash to it. Refused while it streams: past maxArtifactSize (413 BODY_TOO_LARGE), or when it does not start as a gzip\'d tar (400 ARTIFACT_INVALID); nothing is kept. Uploads no release references are deleted after unreferencedArtifactTtl.',
      tag: 'releases',
      query: z.object({ digest: z.string().optional().describe('Expected "sha256:<hex>" of the body.') }).strict(),
      rawBody: 'application/gzip',
      status: 201,
      response: z.object({ digest: z.string(), size: z.number().int() }),
      handle: async ({ query, c }) => {
        const maxBytes = deps.maxArtifactSize ?? DEFAULT_MAX_ARTIFACT_BYTES;
        const declared = Number(c.req.header('content-length') ?? Number.NaN);
        if (Number.isFinite(declared) && declared > maxBytes) {
          throw new CutoverError('BODY_TOO_LARGE', `The artifact is ${declared} bytes, more than ${maxBytes}, the server's limit (setting maxArtifactSize); make it smaller, or raise maxArtifactSize`, {
            details: { limit: maxBytes },
          });
        }
        // The Node request itself when served over HTTP; the web stream when called in-process
        // (tests). Only one of them may be touched: reading `c.req.raw.body` starts consuming the
        // Node request.
        const body = c.env?.incoming ?? webBody(c.req.raw.body);
        return deps.artifacts.put(body, query.digest, { maxBytes, sniff: true });
      },
    }),
    route({
      method: 'get',
      path: '/api/artifacts/{digest}',
      role: 'viewer',
      operationId: 'downloadArtifact',
      summary: 'Download an artifact',
      tag: 'releases',
      params: pathParams('digest'),
      status: 200,
      rawResponse: 'application/gzip',
      handle: async ({ params, c }) => {
        if (!(await deps.artifacts.has(params.digest))) throw new CutoverError('ARTIFACT_NOT_FOUND', `no artifact ${params.digest}`);
        const stream = Readable.toWeb(deps.artifacts.open(params.digest) as Readable) as ReadableStream<Uint8Array>;
        return c.body(stream, 200, { 'content-type': 'application/gzip' });
      },
    }),
    route({
      method: 'post',
      path: '/api/releases',
      role: 'deployer',
      publisher: 'any',
      operationId: 'publishRelease',
      summary: 'Publish a release',
      description:
        'Releases are immutable: the same version with other content is refused (RELEASE_EXISTS); the identical content again answers 200 with created: false. Upload the artifact first.',
      tag: 'releases',
      body: releaseSpecSchema,
      // A release has its own code: what CI reads to tell a bad manifest from other refusals.
      bodyError: (error) => (error ? manifestInvalid(error) : new CutoverError('MANIFEST_INVALID', 'The release spec must be a JSON object')),
      status: 201,
      response: releaseSchema.extend({ created: z.boolean() }),
      handle: async ({ body, who }) => {
        const { release, created } = await publishRelease(deps, body, who);
        return new Answer({ ...release, created }, created ? 201 : 200);
      },
    }),
    route({
      method: 'get',
      path: '/api/releases',
      role: 'viewer',
      operationId: 'listReleases',
      summary: 'List releases, newest first',
      tag: 'releases',
      query: appQuery,
      status: 200,
      response: listOf(releaseSchema),
      handle: async ({ query }) => ({ items: await store.listReleases(query.app), next: null }),
    }),
    route({
      method: 'get',
      path: '/api/releases/diff',
      role: 'viewer',
      operationId: 'diffReleases',
      summary: 'Compare two releases',
      description: 'Features added, removed and changed; components whose versions changed; migrations; and the notes of every release in between.',
      tag: 'releases',
      query: z.object({ from: z.string().min(1), to: z.string().min(1), app: z.string().min(1).optional() }).strict(),
      status: 200,
      response: releaseDiffSchema,
      handle: async ({ query }) => releaseDiff(store, query),
    }),
    route({
      method: 'get',
      path: '/api/releases/{version}',
      role: 'viewer',
      operationId: 'getRelease',
      summary: 'Show a release',
      tag: 'releases',
      params: pathParams('version'),
      query: appQuery,
      status: 200,
      response: releaseSchema,
      handle: async ({ params, query }) => {
        const matches = (await store.listReleases(query.app)).filter((r) => r.version === params.version);
        if (matches.length === 0) {
          throw new CutoverError(
            'RELEASE_NOT_FOUND',
            `no release ${params.version}${query.app ? ` of app "${query.app}"` : ''}; see \`cutover release list\``,
          );
        }
        if (matches.length > 1) {
          throw new CutoverError('VALIDATION_FAILED', `${params.version} exists for several apps (${matches.map((m) => m.app).join(', ')}); pass --app`);
        }
        return matches[0];
      },
    }),
  ];
}
