/** What the version endpoint answers (see the router's `VersionInfo`). */
export interface CutoverVersionInfo {
  instance: string;
  version: string;
  deploymentId: string | null;
  color: 'blue' | 'green';
  flippedAt: string | null;
}

/** Options of `watchVersion`. */
export interface WatchVersionOptions {
  /** Default `/.well-known/cutover/version`. */
  url?: string;
  /** The page's version; default: `<meta name="cutover-version">`, else the first version received. */
  current?: string;
  /** Polling interval when EventSource is not available or gave up. Default 30000. */
  pollMs?: number;
  onUpdate?: (info: CutoverVersionInfo) => void;
}

/**
 * Watches the served version and announces each new one (`onUpdate`, and a `cutover:update`
 * event on document with the info as `detail`). Returns a function that stops watching.
 */
export function watchVersion(options?: WatchVersionOptions): () => void;
