import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CutoverError } from '../shared/index.ts';
import type { ArtifactStore } from '../releases/index.ts';
import type { AgentState } from './agent-state.ts';
import type { SlotDirs } from './slot-dirs.ts';

export interface AgentArtifactsDeps {
  artifacts: ArtifactStore;
  dirs: Pick<SlotDirs, 'removeReleaseCopies'>;
  state(): AgentState;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** The agent's artifacts: received, listed and deleted for pruning, never one a slot runs or a deploy just asked for. */
export function createAgentArtifacts(deps: AgentArtifactsDeps) {
  const { artifacts, dirs, log } = deps;
  // When each artifact was last asked about or received: a deploy checks (HEAD), then starts it a
  // moment later, so a prune planned in between must not delete what it just checked. Once a slot
  // runs it, the slot protects it (digestsInUse) and the mark goes.
  const touched = new Map<string, number>();
  const RECENT_MS = 15 * 60_000;
  const touch = (digest: string) => touched.set(digest, Date.now());

  /** Digests a slot of this agent runs or keeps warm: never pruned, whatever the server asks. */
  const digestsInUse = (): Set<string> =>
    new Set(Object.values(deps.state().instances).flatMap((i) => Object.values(i.slots).map((s) => s!.digest)));

  return {
    /** Marks `digest` as wanted now (a slot start until the slot holds it). */
    touch,
    /** The slot protects it from here. */
    release: (digest: string) => void touched.delete(digest),
    has: (digest: string) => artifacts.has(digest),

    async hasArtifact(digest: string): Promise<boolean> {
      touch(digest);
      return artifacts.has(digest);
    },

    /** The artifacts this agent holds, with their sizes and whether a slot uses them (for `cutover prune`). */
    async listArtifacts(): Promise<{ digest: string; size: number; inUse: boolean }[]> {
      const used = digestsInUse();
      let names: string[];
      try {
        names = await readdir(artifacts.dir);
      } catch {
        return [];
      }
      const out: { digest: string; size: number; inUse: boolean }[] = [];
      for (const name of names.sort()) {
        const m = /^sha256-([0-9a-f]{64})\.tgz$/.exec(name);
        if (!m) continue;
        const digest = `sha256:${m[1]}`;
        const size = await stat(join(artifacts.dir, name)).then((s) => s.size, () => 0);
        out.push({ digest, size, inUse: used.has(digest) });
      }
      return out;
    },

    /**
     * Deletes an artifact and the instances' unpacked copies of it; SLOT_BUSY if a slot runs it
     * or keeps it warm, or a deploy just checked for it. A later deploy of that release fetches it
     * again by digest (`ensureArtifact`) and its slot start unpacks a fresh copy.
     */
    async deleteArtifact(digest: string): Promise<void> {
      const file = artifacts.path(digest); // ARTIFACT_INVALID for a malformed digest
      const busy = (): CutoverError | undefined => {
        if (digestsInUse().has(digest)) {
          return new CutoverError('SLOT_BUSY', `a slot of this agent runs ${digest}; it is kept`, { details: { digest } });
        }
        if (Date.now() - (touched.get(digest) ?? 0) < RECENT_MS) {
          return new CutoverError('SLOT_BUSY', `${digest} was checked for or received in the last ${RECENT_MS / 60_000} minutes (a deploy may be starting it); it is kept`, {
            details: { digest },
          });
        }
        return undefined;
      };
      const refused = busy();
      if (refused) throw refused;
      // The file first: a slot start that slips in from here finds no artifact to unpack.
      await rm(file, { force: true });
      // One that slipped in before (it touched the digest, or holds it already) may be unpacking
      // or running its copy: the copies stay, and go at a later prune.
      if (busy()) {
        log.warn({ digest }, 'deleted the artifact; kept its release copies, a slot start took it meanwhile');
        return;
      }
      const removed = await dirs.removeReleaseCopies(digest);
      if (removed > 0) log.info({ digest, copies: removed }, "deleted the artifact and the instances' release copies of it");
    },

    /** Stores the artifact; each instance unpacks its own copy when it starts a slot of it. */
    async putArtifact(digest: string, body: Readable): Promise<void> {
      touch(digest);
      await artifacts.put(body, digest);
    },
  };
}

export type AgentArtifacts = ReturnType<typeof createAgentArtifacts>;
