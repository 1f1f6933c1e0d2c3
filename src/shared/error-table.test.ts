import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { ERROR_TABLE, errorClassOf, exitCodeFor, httpStatusFor } from './error-table.ts';

// The codes as written in the `ErrorCode` union: the table's type already refuses a missing one at
// compile time; this reads the source too, so loosening that type cannot hide a gap.
const unionCodes = (): string[] => {
  const source = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8');
  const start = source.indexOf('export type ErrorCode');
  const union = source.slice(start, source.indexOf("';\n", start) + 1);
  return [...union.matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1]!);
};

test('every code of the ErrorCode union has an HTTP status and an exit code, and nothing else is in the table', () => {
  const codes = unionCodes();
  assert.ok(codes.length > 40, 'the union was read');
  assert.deepEqual(Object.keys(ERROR_TABLE).sort(), [...codes].sort());
  for (const code of codes) {
    const { http, exit } = ERROR_TABLE[code as keyof typeof ERROR_TABLE];
    assert.ok(http >= 400 && http < 600, `${code}: HTTP ${http}`);
    assert.ok(exit >= 1 && exit < 128, `${code}: exit ${exit}`);
  }
});

test('the two edges agree by meaning: not found is 404 and 3, bad input 4xx and 2, conflicts 409 and 4', () => {
  for (const [code, { http, exit }] of Object.entries(ERROR_TABLE)) {
    assert.equal(http === 404, exit === 3, code);
    assert.equal(http === 409, exit === 4, code);
    assert.equal(code.endsWith('_NOT_FOUND') || code === 'NOT_FOUND', exit === 3, code);
    if (exit === 2) assert.ok(http === 400 || http === 413, code);
  }
  assert.deepEqual(ERROR_TABLE.SLOT_NOT_READY, { http: 409, exit: 4 }, 'SLOT_NOT_READY is a conflict at both edges');
});

test('a code this build does not know (a newer server) is HTTP 500 and exit 1', () => {
  assert.deepEqual(errorClassOf('SOMETHING_NEW'), { http: 500, exit: 1 });
  assert.equal(httpStatusFor('toString'), 500, 'no prototype key counts as a code');
  assert.equal(exitCodeFor('INSTANCE_LOCKED'), 4);
});

test("docs/operations.md's exit-code table names each code in the row of its exit code", () => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Exit codes'));
  const rows = new Map<number, string>();
  for (const m of section.matchAll(/^\| (\d+) \| [^|]* \| (.*) \|$/gm)) rows.set(Number(m[1]), m[2]!);
  for (const [code, { exit }] of Object.entries(ERROR_TABLE)) {
    for (const [row, text] of rows) {
      if (row !== exit) assert.ok(!text.includes(`\`${code}\``), `${code} is listed under exit ${row}, but the table says ${exit}`);
    }
    // Exit 1 ("any code not below") and 3 ("any *_NOT_FOUND") are documented by rule.
    if (exit !== 1 && exit !== 3) assert.ok(rows.get(exit)?.includes(`\`${code}\``), `${code} (exit ${exit}) is missing from its row`);
  }
});
