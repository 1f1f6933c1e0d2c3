// The import tables of docs/architecture.md, read at lint time and turned into dependency-cruiser
// rules (ADR 0018). The doc is the only place the allowed arrows are written, so the doc and the
// check cannot drift: a table that no longer describes the tree (a folder without a row, a row
// naming nothing) stops the lint, and `rulesDisagreeWithTable` proves the rules that will run
// allow exactly the table's arrows before dependency-cruiser runs them.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What an arrow allows: any import; only `import type`/`export type`; or only `import()` (and types). */
export type ArrowKind = 'any' | 'type' | 'on-use';

export interface Arrow {
  /** A path from the repository root: a folder (`src/store`, `test`) or a file (`src/main.ts`). */
  readonly to: string;
  readonly kind: ArrowKind;
}

export interface Row {
  /** `src/<folder>`, `src/<file>.ts` or a top-level folder (`test`, `bench`, `scripts`). */
  readonly from: string;
  readonly arrows: readonly Arrow[];
}

export interface ImportTables {
  /** "Allowed imports between folders": what every file of `from` may import. */
  readonly rows: readonly Row[];
  /** "What unit tests may also import": extra arrows for `from`'s tests (`*.test.ts`, `test-*.ts`). */
  readonly testRows: readonly Row[];
}

/** Whether a repository path is a folder, a file, or absent. */
export type PathKind = (path: string) => 'dir' | 'file' | undefined;

export const DOC = 'docs/architecture.md';
const MAIN_HEADER = ['from', 'may import'];
const TEST_HEADER = ['tests in', 'may also import'];

/** A dependency as dependency-cruiser reports it, reduced to what the rules look at. */
export type ImportKind = 'value' | 'type' | 'dynamic';
const DEPENDENCY_TYPES: Record<ImportKind, readonly string[]> = {
  value: ['local', 'import'],
  type: ['local', 'type-only', 'import'],
  dynamic: ['local', 'dynamic-import'],
};

/** The subset of dependency-cruiser's forbidden rule this file writes (and `evaluate` reads). */
export interface Rule {
  readonly name: string;
  readonly comment: string;
  readonly severity: 'error';
  readonly from: { readonly path?: string; readonly pathNot?: string };
  readonly to: {
    readonly path?: string;
    readonly pathNot?: string;
    readonly dependencyTypes?: readonly string[];
    readonly dependencyTypesNot?: readonly string[];
    readonly couldNotResolve?: boolean;
    readonly circular?: boolean;
  };
}

export class ImportTableError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `${DOC}, "Allowed imports between folders", does not describe the code:\n- ${problems.join('\n- ')}`,
    );
    this.name = 'ImportTableError';
    this.problems = problems;
  }
}

/** The lines of the markdown table whose header is `header`, with their line numbers. */
function tableLines(
  markdown: string,
  header: readonly string[],
  problems: string[],
): { cells: string[]; line: number }[] {
  const lines = markdown.split('\n');
  const starts = lines.flatMap((l, i) => (sameCells(cellsOf(l), header) ? [i] : []));
  if (starts.length !== 1) {
    problems.push(`expected one table headed | ${header.join(' | ')} |, found ${starts.length}`);
    return [];
  }
  const out: { cells: string[]; line: number }[] = [];
  for (let i = starts[0]! + 2; i < lines.length && lines[i]!.trimStart().startsWith('|'); i++) {
    out.push({ cells: cellsOf(lines[i]!), line: i + 1 });
  }
  return out;
}

function cellsOf(line: string): string[] {
  const t = line.trim();
  if (!t.startsWith('|') || !t.endsWith('|')) return [];
  return t
    .slice(1, -1)
    .split('|')
    .map((c) => c.trim());
}

function sameCells(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c.toLowerCase() === b[i]);
}

/** Splits a cell on the commas outside parentheses and backticks. */
function items(cell: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let code = false;
  let cur = '';
  for (const ch of cell) {
    if (ch === '`') code = !code;
    else if (!code && ch === '(') depth++;
    else if (!code && ch === ')') depth--;
    if (ch === ',' && depth === 0 && !code) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter((s) => s !== '');
}

/** `src/<name>` when it exists, else `<name>` from the root; a trailing `/` is dropped. */
function resolveName(name: string, kindOf: PathKind): string | undefined {
  const bare = name.replace(/\/$/, '');
  const candidates = bare.startsWith('src/') ? [bare] : [`src/${bare}`, bare];
  return candidates.find((c) => kindOf(c) !== undefined);
}

function kindOfNote(note: string | undefined): ArrowKind | 'bad' {
  if (note === undefined) return 'any';
  if (/^types?\s*(:|$)/.test(note)) return 'type';
  // "types; `x`" reads as type-only at a glance: values come first in a mixed note.
  if (/^types?\b/.test(note)) return 'bad';
  if (/^loaded on use\b/.test(note)) return 'on-use';
  return 'any';
}

function parseRows(lines: { cells: string[]; line: number }[], kindOf: PathKind, problems: string[]): Row[] {
  const rows: Row[] = [];
  for (const { cells, line } of lines) {
    const at = `${DOC}:${line}`;
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (cells.length !== 2 || name === undefined) {
      problems.push(`${at}: a row is | \`folder/\` or \`file.ts\` | arrows |`);
      continue;
    }
    const from = resolveName(name, kindOf);
    if (
      from === undefined ||
      !(/^src\/[^/]+$/.test(from) || (/^[^/]+$/.test(from) && kindOf(from) === 'dir'))
    ) {
      problems.push(`${at}: \`${name}\` is not a folder or file of src/, nor a top-level folder`);
      continue;
    }
    if (rows.some((r) => r.from === from)) problems.push(`${at}: a second row for \`${name}\``);
    const arrows: Arrow[] = [];
    const parts = items(cells[1]!);
    if (parts.length === 1 && /^nothing internal\b/.test(parts[0]!)) {
      rows.push({ from, arrows });
      continue;
    }
    for (const part of parts) {
      const m = /^`([^`]+)`(?:\s*\((.*)\))?$/s.exec(part);
      if (!m) {
        problems.push(
          `${at}: cannot read "${part}": write \`name\` or \`name\` (note), comma-separated, or "nothing internal"`,
        );
        continue;
      }
      const to = resolveName(m[1]!, kindOf);
      const kind = kindOfNote(m[2]?.trim());
      if (to === undefined) problems.push(`${at}: \`${m[1]}\` names no file or folder`);
      else if (kind === 'bad')
        problems.push(
          `${at}: "(${m[2]})": write (type) or (type: why) for a type-only arrow, values first in a mixed note`,
        );
      else if (to === from || to.startsWith(`${from}/`))
        problems.push(`${at}: \`${m[1]}\` is \`${name}\` itself`);
      else if (arrows.some((a) => a.to === to)) problems.push(`${at}: \`${m[1]}\` twice`);
      else arrows.push({ to, kind });
    }
    rows.push({ from, arrows });
  }
  return rows;
}

/** Reads both tables; `problems` lists everything that could not be read or does not exist. */
export function parseImportTables(
  markdown: string,
  kindOf: PathKind,
): { tables: ImportTables; problems: string[] } {
  const problems: string[] = [];
  const rows = parseRows(tableLines(markdown, MAIN_HEADER, problems), kindOf, problems);
  const testRows = parseRows(tableLines(markdown, TEST_HEADER, problems), kindOf, problems);
  for (const t of testRows) {
    const row = rows.find((r) => r.from === t.from);
    if (!row || !t.from.startsWith('src/')) {
      problems.push(
        `"may also import" row \`${t.from}\`: only src/ folders and files that have a row above get extras`,
      );
      continue;
    }
    for (const a of t.arrows) {
      const has = row.arrows.find((b) => b.to === a.to);
      if (has && (has.kind === 'any' || has.kind === a.kind))
        problems.push(`tests in \`${t.from}\` → \`${a.to}\`: already allowed by its row above`);
    }
  }
  const cycle = cycleIn(rows);
  if (cycle) problems.push(`the arrows ${cycle.join(' → ')} make a cycle`);
  return { tables: { rows, testRows }, problems };
}

/** A cycle among the rows' arrows (a target inside a row's folder counts as that row), if any. */
function cycleIn(rows: readonly Row[]): string[] | undefined {
  const rowOf = (p: string) => rows.find((r) => p === r.from || p.startsWith(`${r.from}/`))?.from;
  const next = new Map(rows.map((r) => [r.from, r.arrows.flatMap((a) => rowOf(a.to) ?? [])]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    if (state.get(n) === 'done') return undefined;
    state.set(n, 'open');
    path.push(n);
    for (const m of next.get(n) ?? []) {
      const found = visit(m);
      if (found) return found;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const r of rows) {
    const found = visit(r.from);
    if (found) return found;
  }
  return undefined;
}

/** Every folder and top-level source file of src/ needs a row: a new one cannot slip past the table. */
function uncoveredSrcEntries(tables: ImportTables, srcEntries: readonly string[]): string[] {
  return srcEntries
    .filter((e) => !tables.rows.some((r) => r.from === e))
    .map((e) => `\`${e}\` has no row in the table`);
}

function srcEntriesOf(root: string): string[] {
  return readdirSync(join(root, 'src'), { withFileTypes: true })
    .filter((d) => d.isDirectory() || (d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')))
    .map((d) => `src/${d.name}`)
    .sort();
}

function fsKindOf(root: string): PathKind {
  return (p) => {
    try {
      return statSync(join(root, p)).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  };
}

/** Reads the tables of the doc under `root`, or throws `ImportTableError` with every problem. */
export function readImportTables(
  root: string,
  markdown = readFileSync(join(root, DOC), 'utf8'),
): ImportTables {
  const { tables, problems } = parseImportTables(markdown, fsKindOf(root));
  problems.push(...uncoveredSrcEntries(tables, srcEntriesOf(root)));
  if (problems.length > 0) throw new ImportTableError(problems);
  return tables;
}

// ---- from the tables to dependency-cruiser rules ----

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isFile = (p: string) => /\.[a-z]+$/.test(p);
const any = (res: readonly string[]) => res.map((r) => `(?:${r})`).join('|');

/** The files a target names: a folder and everything under it, or one file. */
const targetRe = (p: string) => (isFile(p) ? `^${esc(p)}$` : `^${esc(p)}/`);
/** The files a row speaks for: a folder, or a file of src/ with its unit test. */
const fromRe = (p: string) =>
  isFile(p) ? `^${esc(p.replace(/\.ts$/, ''))}(?:\\.test)?\\.ts$` : `^${esc(p)}/`;
/** Its unit tests and test-support files (`*.test.ts`, `test-*.ts`). */
const testsRe = (p: string) =>
  isFile(p)
    ? `^${esc(p.replace(/\.ts$/, ''))}\\.test\\.ts$`
    : `^${esc(p)}/(?:.*\\.test|.*/test-[^/]*|test-[^/]*)\\.ts$`;

const WIDER: Record<ArrowKind, number> = { type: 0, 'on-use': 1, any: 2 };

function mergeArrows(a: readonly Arrow[], b: readonly Arrow[]): Arrow[] {
  const out = new Map(a.map((x) => [x.to, x]));
  for (const x of b) {
    const has = out.get(x.to);
    if (!has || WIDER[x.kind] > WIDER[has.kind]) out.set(x.to, x);
  }
  return [...out.values()];
}

const SOURCE = `${DOC}, "Allowed imports between folders"`;

function rulesForClass(name: string, from: Rule['from'], self: string, arrows: readonly Arrow[]): Rule[] {
  const allowed = arrows.map((a) => targetRe(a.to));
  const list =
    arrows.length === 0
      ? 'nothing internal'
      : arrows.map((a) => a.to + (a.kind === 'any' ? '' : ` (${a.kind})`)).join(', ');
  const rules: Rule[] = [
    {
      name: `table: ${name} → not in its row`,
      comment: `${name} may import ${list} (${SOURCE}).`,
      severity: 'error',
      from,
      to: { dependencyTypes: ['local'], pathNot: any([targetRe(self), ...allowed]) },
    },
  ];
  for (const a of arrows) {
    if (a.kind === 'any') continue;
    rules.push({
      name: `table: ${name} → ${a.to} (${a.kind})`,
      comment:
        a.kind === 'type'
          ? `${name} may import only types from ${a.to}: use \`import type\` (${SOURCE}).`
          : `${name} may load ${a.to} only on use, with \`await import()\` (${SOURCE}).`,
      severity: 'error',
      from,
      to: {
        path: targetRe(a.to),
        dependencyTypesNot: a.kind === 'type' ? ['type-only'] : ['type-only', 'dynamic-import'],
      },
    });
  }
  return rules;
}

/** Files other than an index.ts that rows of src/ name as targets in another folder, with those rows. */
function entryExceptions(tables: ImportTables): { file: string; rows: string[] }[] {
  const out = new Map<string, string[]>();
  for (const row of tables.rows) {
    if (!row.from.startsWith('src/')) continue;
    for (const a of row.arrows) {
      if (!/^src\/[^/]+\/.+\.ts$/.test(a.to) || a.to.endsWith('/index.ts')) continue;
      out.set(a.to, [...(out.get(a.to) ?? []), row.from]);
    }
  }
  return [...out].map(([file, rows]) => ({ file, rows }));
}

/** The forbidden rules that say what the tables say, plus the entry-file rule and two guards. */
export function rulesFromTables(tables: ImportTables): Rule[] {
  const rules: Rule[] = [];
  for (const row of tables.rows) {
    const extra = tables.testRows.find((t) => t.from === row.from)?.arrows ?? [];
    const label = isFile(row.from) ? row.from : `${row.from}/`;
    if (extra.length === 0) {
      rules.push(...rulesForClass(label, { path: fromRe(row.from) }, row.from, row.arrows));
    } else {
      rules.push(
        ...rulesForClass(label, { path: fromRe(row.from), pathNot: testsRe(row.from) }, row.from, row.arrows),
      );
      rules.push(
        ...rulesForClass(
          `${label} tests`,
          { path: testsRe(row.from) },
          row.from,
          mergeArrows(row.arrows, extra),
        ),
      );
    }
  }
  rules.push(
    {
      name: 'table: no row',
      comment: `This folder has no row in ${SOURCE}: add one before it imports code of another folder.`,
      severity: 'error',
      from: { path: '^([^/]+)/', pathNot: any(tables.rows.map((r) => fromRe(r.from))) },
      to: { dependencyTypes: ['local'], pathNot: '^$1/' },
    },
    {
      name: 'entry files only',
      comment: `Another folder of src/ is imported through its index.ts only (${DOC}).`,
      severity: 'error',
      from: { path: '^src/([^/]+)' },
      to: { path: '^src/[^/]+/', pathNot: any(['^src/$1/', '^src/[^/]+/index\\.ts$', ...entryExceptions(tables).map((e) => targetRe(e.file))]) },
    },
    // A file of another folder that a row names itself (not its index.ts) is an exception for
    // that row only: everyone else still goes through the index.
    ...entryExceptions(tables).map(
      (e): Rule => ({
        name: `entry files only: ${e.file}`,
        comment: `Only ${e.rows.join(', ')} may import ${e.file} itself; others import its folder's index.ts (${DOC}).`,
        severity: 'error',
        from: { path: '^src/', pathNot: any([`^${esc(e.file.replace(/[^/]+$/, ''))}`, ...e.rows.map(fromRe)]) },
        to: { path: targetRe(e.file) },
      }),
    ),
    {
      name: 'resolvable',
      comment: 'An import dependency-cruiser cannot resolve would escape every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  );
  return rules;
}

// ---- the check that the rules say what the tables say ----

const KNOWN_FROM = new Set(['path', 'pathNot']);
const KNOWN_TO = new Set(['path', 'pathNot', 'dependencyTypes', 'dependencyTypesNot', 'couldNotResolve', 'circular']);

/** Whether `rule` flags an import of `to` from `from`, as dependency-cruiser matches forbidden rules. */
export function flags(rule: Rule, from: string, to: string, kind: ImportKind): boolean {
  for (const k of Object.keys(rule.from))
    if (!KNOWN_FROM.has(k)) throw new Error(`rule ${rule.name}: from.${k} is not understood here`);
  for (const k of Object.keys(rule.to))
    if (!KNOWN_TO.has(k)) throw new Error(`rule ${rule.name}: to.${k} is not understood here`);
  const groups = rule.from.path ? new RegExp(rule.from.path).exec(from) : null;
  if (rule.from.path && !groups) return false;
  if (rule.from.pathNot && new RegExp(rule.from.pathNot).test(from)) return false;
  const sub = (re: string) => re.replace(/\$(\d)/g, (_, n: string) => groups?.[Number(n)] ?? '');
  const types = DEPENDENCY_TYPES[kind];
  // A cycle is a property of a path of imports, not of one import: no single arrow trips it.
  if (rule.to.circular) return false;
  if (rule.to.couldNotResolve !== undefined && rule.to.couldNotResolve !== false) return false;
  if (rule.to.path && !new RegExp(sub(rule.to.path)).test(to)) return false;
  if (rule.to.pathNot && new RegExp(sub(rule.to.pathNot)).test(to)) return false;
  if (rule.to.dependencyTypes && !rule.to.dependencyTypes.some((t) => types.includes(t))) return false;
  if (rule.to.dependencyTypesNot && rule.to.dependencyTypesNot.some((t) => types.includes(t))) return false;
  return true;
}

/** What the tables allow, read straight from them: the oracle the rules are compared with. */
function tableAllows(tables: ImportTables, from: string, to: string, kind: ImportKind): boolean {
  const row = tables.rows.find((r) =>
    (isFile(r.from) ? new RegExp(fromRe(r.from)) : new RegExp(`^${esc(r.from)}/`)).test(from),
  );
  if (!row) return to.split('/')[0] === from.split('/')[0];
  const inside = (p: string, a: string) => (isFile(a) ? p === a : p.startsWith(`${a}/`));
  if (inside(to, row.from) || to === row.from) return true;
  // "other folders of src/ import only that [index.ts]"
  const folder = /^src\/[^/]+\//.exec(to)?.[0];
  if (from.startsWith('src/') && folder !== undefined && to !== `${folder}index.ts` && !row.arrows.some((a) => a.to === to))
    return false;
  const isTest = new RegExp(testsRe(row.from)).test(from);
  const extra = isTest ? (tables.testRows.find((t) => t.from === row.from)?.arrows ?? []) : [];
  const arrow = mergeArrows(row.arrows, extra).find((a) => inside(to, a.to));
  if (!arrow) return false;
  return arrow.kind === 'any' || kind === 'type' || (arrow.kind === 'on-use' && kind === 'dynamic');
}

/** A file of each kind in each place the tables name, and the entry file of each target. */
function samples(tables: ImportTables): { froms: string[]; tos: string[] } {
  const froms = new Set<string>();
  const tos = new Set<string>();
  const places = new Set([
    ...tables.rows.map((r) => r.from),
    ...tables.rows.flatMap((r) => r.arrows.map((a) => a.to)),
  ]);
  for (const p of places) {
    if (isFile(p)) {
      froms.add(p);
      tos.add(p);
      if (p.startsWith('src/')) froms.add(p.replace(/\.ts$/, '.test.ts'));
    } else {
      for (const f of ['x.ts', 'x.test.ts', 'test-x.ts', 'sub/x.test.ts']) froms.add(`${p}/${f}`);
      tos.add(`${p}/index.ts`);
    }
  }
  froms.add('elsewhere/x.ts');
  tos.add('elsewhere/y.ts');
  return { froms: [...froms].sort(), tos: [...tos].sort() };
}

/**
 * Every import the tables allow passes the rules and every other one fails them, for a file of each
 * kind in every place the tables name and every kind of import: the rules are the tables.
 */
export function rulesDisagreeWithTable(rules: readonly Rule[], tables: ImportTables): string[] {
  const out: string[] = [];
  const { froms, tos } = samples(tables);
  for (const from of froms) {
    for (const to of tos) {
      for (const kind of ['value', 'type', 'dynamic'] as const) {
        const expected = tableAllows(tables, from, to, kind);
        const flagged = rules.filter((r) => flags(r, from, to, kind)).map((r) => r.name);
        if (expected && flagged.length > 0)
          out.push(`${from} → ${to} (${kind}): the table allows it, rule "${flagged[0]}" forbids it`);
        if (!expected && flagged.length === 0)
          out.push(`${from} → ${to} (${kind}): the table forbids it, no rule does`);
      }
    }
  }
  return out;
}

/**
 * Between folders the table already forbids a cycle (an arrow back would need a row that closes
 * one, which `parseImportTables` refuses); this rule catches the loops inside a folder, which the
 * table cannot see, such as `a.ts` → `b.ts` → `a.ts` through a type-only import.
 */
export function noCircularRule(): Rule {
  return {
    name: 'no-circular',
    comment:
      'A loop of imports inside a folder: move what both files need into a third file they both import (docs/architecture.md).',
    severity: 'error',
    from: {},
    to: { circular: true },
  };
}

/** dependency-cruiser's configuration for the tree at `root`: `.dependency-cruiser.ts` exports it. */
export function cruiseConfig(root: string) {
  const tables = readImportTables(root);
  const forbidden = rulesFromTables(tables);
  const drift = rulesDisagreeWithTable(forbidden, tables);
  if (drift.length > 0) throw new ImportTableError(drift);
  return {
    forbidden: [...forbidden, noCircularRule()],
    options: {
      doNotFollow: { path: 'node_modules' },
      // bench/.snapshots: the earlier commit the router benchmark builds and runs beside the current one.
      exclude: { path: '(^|/)node_modules/|^bench/\\.snapshots/' },
      // Without it the TypeScript is compiled first and `import type` lines vanish, so the
      // (type) arrows could not be told from value imports.
      tsPreCompilationDeps: true,
      combinedDependencies: false,
    },
  };
}
