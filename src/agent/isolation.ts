/**
 * How the agent keeps slots apart. `uid`: it runs as root and starts each instance's slots under
 * their own uid/gid; `none`: slots share the agent's uid (a laptop, `npm run demo`), so a slot
 * could read the agent's credentials and join its ports with SO_REUSEPORT.
 */
export type Isolation = 'uid' | 'none';

/** What the agent does about isolation at start, decided from plain data. */
export interface IsolationPlan {
  isolation: Isolation;
  /** Logged at start when slots share the agent's uid. */
  warning?: string;
  /** Set when the agent must not start: the message says how to fix it. */
  refusal?: string;
}

/** `127.0.0.1`, any `127.x.y.z`, `::1`, `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
}

/**
 * Root isolates slots by uid. Anyone else shares its uid with them: that is refused for a router
 * other machines can reach, unless the operator accepts it with `allowSharedUid`, and warned about otherwise.
 */
export function planIsolation(input: {
  euid: number | undefined;
  httpHost: string;
  allowSharedUid: boolean;
}): IsolationPlan {
  if (input.euid === 0) return { isolation: 'uid' };
  const warning =
    'the agent is not root: slots run as its own user, so a release could read the agent token and join the router and control ports; ' +
    'run the agent as root for one uid per instance (isolation: uid)';
  if (!isLoopbackHost(input.httpHost) && !input.allowSharedUid) {
    return {
      isolation: 'none',
      warning,
      refusal:
        `the router would listen on ${input.httpHost}, reachable from other machines, while slots share the agent's uid (it is not root); ` +
        'run the agent as root, bind the router to 127.0.0.1, or accept the risk with --allow-shared-uid (allowSharedUid: true)',
    };
  }
  return { isolation: 'none', warning };
}

/** A directory on the way to the slots' files, as `stat` sees it. */
export interface DirOnPath {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * The first directory `user` cannot search (no x bit for it as owner, group or other), or
 * undefined. Slots open their release and state directories by absolute path, so every
 * directory above them must let the slot's uid through. Pure.
 */
export function blockingDirectory(
  chain: readonly DirOnPath[],
  user: { uid: number; gid: number },
): DirOnPath | undefined {
  return chain.find((d) => {
    if (d.uid === user.uid) return (d.mode & 0o100) === 0;
    if (d.gid === user.gid) return (d.mode & 0o010) === 0;
    return (d.mode & 0o001) === 0;
  });
}
