/** One line of `GET /api/instances/{name}/logs?format=ndjson`. */
export interface LabelledLogLine {
  machine: string | null;
  instance: string;
  app: string;
  version: string | null;
  color: string;
  line: string;
}

/** The widths of the prefix's columns so far: they only grow, so lines of one stream stay aligned. */
export type PrefixWidths = readonly [number, number, number, number];

export const NO_WIDTHS: PrefixWidths = [0, 0, 0, 0];

/**
 * The label `cutover logs` prints before each line (pure), like stern's `pod container` and
 * kubectl's `--prefix`, but with what Cutover knows: `machine instance app@version colour | `.
 * A machine of null is the one local agent (`local`). Each column is padded to the widest value
 * seen so far in the stream (returned for the next line), so lines from several machines or
 * colours line up without knowing them in advance.
 */
export function logPrefix(entry: Omit<LabelledLogLine, 'line'>, widths: PrefixWidths): { prefix: string; widths: PrefixWidths } {
  const cells = [entry.machine ?? 'local', entry.instance, `${entry.app}@${entry.version ?? '?'}`, entry.color] as const;
  const next = cells.map((cell, i) => Math.max(widths[i]!, cell.length)) as unknown as PrefixWidths;
  return { prefix: `${cells.map((cell, i) => cell.padEnd(next[i]!)).join(' ')} | `, widths: next };
}

/** Whether a parsed NDJSON value is a labelled line (the server's answer is trusted, but not blindly). */
export function isLabelledLine(value: unknown): value is LabelledLogLine {
  const v = value as Partial<LabelledLogLine> | null;
  return typeof v?.line === 'string' && typeof v.instance === 'string' && typeof v.app === 'string' && typeof v.color === 'string';
}
