// The import table of docs/architecture.md is what `npm run lint` enforces (ADR 0018): the rules
// dependency-cruiser runs are the table's arrows, a planted forbidden import fails the real lint
// command, and a table that drifts from the code or from the rules fails too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  DOC,
  ImportTableError,
  flags,
  readImportTables,
  rulesDisagreeWithTable,
  rulesFromTables,
} from '../scripts/import-rules.ts';
import type { ImportKind, ImportTables, Rule } from '../scripts/import-rules.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.ts');

/** The configuration `npm run lint` hands dependency-cruiser (it reads the tree at the working directory). */
async function lintConfig(): Promise<{ forbidden: Rule[] }> {
  assert.equal(process.cwd(), ROOT.replace(/\/$/, ''), 'run from the repository root, as npm test does');
  const mod = (await import(pathToFileURL(CONFIG).href)) as { default: { forbidden: Rule[] } };
  return mod.default;
}

const blocked = (rules: readonly Rule[], from: string, to: string, kind: ImportKind) =>
  rules.filter((r) => flags(r, from, to, kind)).map((r) => r.name);

test('the rules dependency-cruiser runs allow exactly the arrows of the tables', async () => {
  const { forbidden } = await lintConfig();
  const tables = readImportTables(ROOT);
  assert.deepEqual(rulesDisagreeWithTable(forbidden, tables), []);

  // A few arrows read off the doc by hand, so a parser that misread the table would show here too.
  const allowed: [string, string, ImportKind][] = [
    ['src/fleet/plan-fleet.ts', 'src/store/index.ts', 'type'],
    ['src/api/api.ts', 'src/scheduler/index.ts', 'type'],
    ['src/api/test-harness.ts', 'src/scheduler/index.ts', 'value'],
    ['src/scheduler/scheduler.test.ts', 'src/store/index.ts', 'value'],
    ['src/cli/commands/processes.ts', 'src/main.ts', 'dynamic'],
    ['src/cli/commands/catalog.ts', 'src/releases/index.ts', 'dynamic'],
    ['test/disk-full.e2e.test.ts', 'src/api/test-harness.ts', 'value'],
    ['bench/lib/router-child.ts', 'src/router/index.ts', 'value'],
    ['src/deploy/deployer.test.ts', 'src/testing/index.ts', 'value'],
    ['src/agent/agent-client.ts', 'src/protocol/index.ts', 'value'],
  ];
  for (const [from, to, kind] of allowed)
    assert.deepEqual(blocked(forbidden, from, to, kind), [], `${from} → ${to} (${kind})`);
  const refused: [string, string, ImportKind][] = [
    ['src/shared/errors.ts', 'src/store/index.ts', 'type'],
    ['src/fleet/plan-fleet.ts', 'src/store/index.ts', 'value'],
    ['src/api/api.ts', 'src/scheduler/index.ts', 'value'],
    ['src/cli/commands/processes.ts', 'src/main.ts', 'value'],
    ['src/cli/commands/catalog.ts', 'src/releases/index.ts', 'value'],
    ['src/store/store.ts', 'src/deploy/index.ts', 'type'],
    ['src/fleet/plan-fleet.ts', 'src/store/sqlite/sqlite-store.ts', 'type'],
    // Test support stays out of shipped code: no production row has an arrow to testing/.
    ['src/deploy/deployer.ts', 'src/testing/index.ts', 'value'],
    ['src/main.ts', 'src/testing/index.ts', 'type'],
    ['src/protocol/messages.ts', 'src/deploy/index.ts', 'type'],
    ['src/main.ts', 'src/cli/index.ts', 'dynamic'],
    ['test/lifecycle.e2e.test.ts', 'src/router/index.ts', 'value'],
    ['scripts/build.ts', 'src/shared/index.ts', 'value'],
    ['examples/x.ts', 'src/shared/index.ts', 'value'],
  ];
  for (const [from, to, kind] of refused)
    assert.notDeepEqual(blocked(forbidden, from, to, kind), [], `${from} → ${to} (${kind})`);
});

test('every folder and top-level file of src/ has a row', async () => {
  const { rows } = readImportTables(ROOT);
  const entries = (await readdir(join(ROOT, 'src'), { withFileTypes: true }))
    .filter((d) => d.isDirectory() || (d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')))
    .map((d) => `src/${d.name}`);
  assert.ok(entries.length > 15);
  for (const e of entries)
    assert.ok(
      rows.some((r) => r.from === e),
      `${e} has no row in ${DOC}`,
    );
});

/** A tree with an entry file for every place the tables name, and the real doc. */
async function fixture(tables: ImportTables): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-import-table-'));
  const places = new Set([
    ...tables.rows.map((r) => r.from),
    ...tables.rows.flatMap((r) => r.arrows.map((a) => a.to)),
  ]);
  for (const p of places) {
    const file = /\.ts$/.test(p) ? p : `${p}/index.ts`;
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), 'export const x = 1;\nexport type T = number;\n');
  }
  await mkdir(join(dir, 'docs'));
  await writeFile(join(dir, DOC), await readFile(join(ROOT, DOC), 'utf8'));
  return dir;
}

/** The dependency-cruiser step of `npm run lint`, as package.json writes it, run in `cwd`. */
async function lint(cwd: string): Promise<{ code: number; violations: string[] }> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { lint: string } };
  const step = pkg.scripts.lint
    .split('&&')
    .map((s) => s.trim().split(/\s+/))
    .find((a) => a[0] === 'depcruise');
  assert.ok(step, 'npm run lint runs depcruise');
  const args = [DEPCRUISE, ...step.slice(1).map((a) => (a === '.dependency-cruiser.ts' ? CONFIG : a))];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      // "  error <rule>: <from> → <to>", then the rule's comment; a cycle goes on over the next
      // lines ("  error no-circular: <a> → ", "      <b> →", "      <a>"), kept here as "<a> → …".
      const violations = `${stdout}${stderr}`.split('\n').flatMap((l) => {
        const m = /^\s*error (.+): (\S+) → (\S+)$/.exec(l);
        const loop = /^\s*error (no-circular): (\S+) →\s*$/.exec(l);
        if (loop) return [`${loop[1]}: ${loop[2]} → …`];
        return m ? [`${m[1]}: ${m[2]} → ${m[3]}`] : [];
      });
      resolve({ code, violations });
    });
  });
}

test('the lint fails on a planted forbidden import, and passes the allowed ones beside it', async () => {
  const dir = await fixture(readImportTables(ROOT));
  try {
    const plant = (file: string, text: string) => writeFile(join(dir, file), text);
    // Allowed: the table's arrows, as the code uses them.
    await plant('src/fleet/ok.ts', "import type { T } from '../store/index.ts';\nexport type U = T;\n");
    await plant('src/cli/ok.ts', "export const load = () => import('../main.ts');\n");
    await plant('src/scheduler/ok.test.ts', "import { x } from '../store/index.ts';\nexport const y = x;\n");
    // Forbidden: a leaf importing upwards, a value over a (type) arrow or a (loaded on use) one, past
    // an entry file, scripts/ into src/.
    await plant('src/shared/bad.ts', "import { x } from '../store/index.ts';\nexport const y = x;\n");
    await plant('src/fleet/bad-value.ts', "import { x } from '../store/index.ts';\nexport const y = x;\n");
    await plant('src/cli/bad.ts', "import { x } from '../main.ts';\nexport const y = x;\n");
    await plant('src/api/bad.ts', "import { x } from '../scheduler/index.ts';\nexport const y = x;\n");
    await mkdir(join(dir, 'src/store/sqlite'));
    await plant('src/store/sqlite/deep.ts', 'export const z = 1;\n');
    await plant(
      'src/fleet/bad.ts',
      "import type { z } from '../store/sqlite/deep.ts';\nexport type Z = typeof z;\n",
    );
    await plant('scripts/bad.ts', "import { x } from '../src/shared/index.ts';\nexport const y = x;\n");
    // A loop inside a folder, closed by a type-only import as the old ones were.
    await plant('src/fleet/loop-a.ts', "import { b } from './loop-b.ts';\nexport const a = b;\n");
    await plant('src/fleet/loop-b.ts', "import type { a } from './loop-a.ts';\nexport const b = 1;\nexport type A = typeof a;\n");

    const { code, violations } = await lint(dir);
    assert.deepEqual(violations.sort(), [
      'entry files only: src/fleet/bad.ts → src/store/sqlite/deep.ts',
      'no-circular: src/fleet/loop-a.ts → …',
      'table: scripts/ → not in its row: scripts/bad.ts → src/shared/index.ts',
      'table: src/api/ → src/scheduler (type): src/api/bad.ts → src/scheduler/index.ts',
      'table: src/cli/ → src/main.ts (on-use): src/cli/bad.ts → src/main.ts',
      'table: src/fleet/ → src/store (type): src/fleet/bad-value.ts → src/store/index.ts',
      'table: src/shared/ → not in its row: src/shared/bad.ts → src/store/index.ts',
    ]);
    assert.equal(code, violations.length, 'dependency-cruiser exits with the number of errors');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a table that drifts from the tree or from the rules fails', async () => {
  const doc = await readFile(join(ROOT, DOC), 'utf8');
  const problemsOf = (markdown: string) => {
    try {
      readImportTables(ROOT, markdown);
      return [];
    } catch (e) {
      assert.ok(e instanceof ImportTableError);
      return e.problems;
    }
  };
  const edit = (from: RegExp, to: string) => {
    assert.match(doc, from);
    return doc.replace(from, to);
  };
  assert.deepEqual(problemsOf(doc), []);

  // A folder of src/ without a row.
  assert.ok(
    problemsOf(edit(/^\| `scheduler\/` .*\n/m, '')).includes('`src/scheduler` has no row in the table'),
  );
  // A row naming a folder that does not exist.
  assert.match(
    problemsOf(edit(/(\| `deploy\/` +\| `shared`)/, '$1, `nowhere`')).join('\n'),
    /`nowhere` names no file or folder/,
  );
  // A cell the parser cannot read, and a note that reads as type-only but is not.
  assert.match(
    problemsOf(edit(/(\| `fleet\/` +\| `shared`)/, '$1 and the clock')).join('\n'),
    /cannot read "`shared` and the clock"/,
  );
  assert.match(
    problemsOf(edit(/`fleet` \(`explain`/, '`fleet` (types; `explain`')).join('\n'),
    /write \(type\) or \(type: why\)/,
  );
  // An arrow that closes a cycle.
  assert.match(
    problemsOf(edit(/(`diskFullError`\))/, '$1, `deploy` (type)')).join('\n'),
    /the arrows src\/store → src\/deploy → src\/store make a cycle/,
  );
  // An extra test arrow the folder's row already allows.
  assert.match(
    problemsOf(edit(/(\| `agent\/` +\| `config` \(`loadConfig`, in `agent\/test-agent.ts`\))/, '$1, `shared`')).join('\n'),
    /already allowed/,
  );

  // An arrow taken out of the table: the rules made from the old table no longer match it, and
  // the rules made from the new one refuse an import the code has (plan-fleet.ts uses store types).
  const tables = readImportTables(ROOT);
  const altered = readImportTables(ROOT, edit(/(\| `fleet\/` +\| `shared`), `store` \(type\)/, '$1'));
  const drift = rulesDisagreeWithTable(rulesFromTables(tables), altered);
  assert.ok(
    drift.some((d) => d.startsWith('src/fleet/x.ts → src/store/index.ts (type): the table forbids it')),
    drift.join('\n'),
  );
  assert.notDeepEqual(
    blocked(rulesFromTables(altered), 'src/fleet/plan-fleet.ts', 'src/store/index.ts', 'type'),
    [],
  );
  assert.match(await readFile(join(ROOT, 'src/fleet/plan-fleet.ts'), 'utf8'), /from '\.\.\/store\/index\.ts'/);

  // A rule edited by hand (one taken away) no longer says what the table says.
  const { forbidden } = await lintConfig();
  const tampered = forbidden.filter((r) => r.name !== 'table: src/shared/ → not in its row');
  assert.ok(
    rulesDisagreeWithTable(tampered, tables).some((d) =>
      d.startsWith('src/shared/x.ts → src/store/index.ts (value): the table forbids it'),
    ),
  );
});
