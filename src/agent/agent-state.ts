import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Color } from '../shared/index.ts';
import type { RuntimeSlotSpec } from '../deploy/index.ts';

/** What the agent must remember to serve again after a restart. */
export type PersistedSlot = Omit<RuntimeSlotSpec, 'instance' | 'color'>;

export interface PersistedInstance {
  hosts: string[];
  active: Color | null;
  slots: Partial<Record<Color, PersistedSlot>>;
}

export interface AgentState {
  version: 1;
  instances: Record<string, PersistedInstance>;
}

/**
 * Persists the agent state atomically: write a temp file, fsync it, rename over the old one, fsync
 * the directory. A crash leaves either the old or the new file, never a torn one. Writes are
 * serialised; each writes the latest state.
 */
export function createStateFile(file: string) {
  let chain: Promise<void> = Promise.resolve();

  async function write(state: AgentState): Promise<void> {
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600); // slot env may hold configuration
    try {
      await handle.writeFile(JSON.stringify(state));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    const dir = await open(dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  return {
    save(state: AgentState): Promise<void> {
      const snapshot = structuredClone(state);
      chain = chain.catch(() => undefined).then(() => write(snapshot));
      return chain;
    },
    /**
     * Loads the state; a missing file is an empty state. Entries that do not look like an instance
     * are skipped and reported, so one corrupt entry does not stop the others from being restored.
     */
    async load(): Promise<{ state: AgentState; skipped: string[] }> {
      let raw: string;
      try {
        raw = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: { version: 1, instances: {} }, skipped: [] };
        throw error;
      }
      const parsed = JSON.parse(raw) as { instances?: Record<string, unknown> };
      const instances: Record<string, PersistedInstance> = {};
      const skipped: string[] = [];
      for (const [name, value] of Object.entries(parsed.instances ?? {})) {
        const v = value as PersistedInstance;
        if (v && Array.isArray(v.hosts) && typeof v.slots === 'object' && v.slots !== null) instances[name] = v;
        else skipped.push(name);
      }
      return { state: { version: 1, instances }, skipped };
    },
  };
}
