import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessProblem, roleAllows } from './access.ts';
import type { Operation, RankedRole } from './access.ts';
import type { Role } from '../store/index.ts';

const ROLES: Role[] = ['viewer', 'deployer', 'admin', 'publisher'];
const NEEDS: RankedRole[] = ['viewer', 'deployer', 'admin'];

test('roleAllows: viewer < deployer < admin; a publisher ranks as a viewer', () => {
  const allowed = ROLES.map((have) => NEEDS.filter((need) => roleAllows(have, need)));
  assert.deepEqual(allowed, [['viewer'], ['viewer', 'deployer'], ['viewer', 'deployer', 'admin'], ['viewer']]);
});

test('accessProblem: a publisher gets what its operation grants it, and a promotion only to its own channels', () => {
  const ci = { name: 'ci', role: 'publisher' as const, channels: ['staging', 'test'] };
  const op = (role: RankedRole, extra: Partial<Operation> = {}): Operation => ({ label: 'POST /x (x)', role, ...extra });
  assert.equal(accessProblem(ci, op('viewer')), undefined);
  assert.equal(accessProblem(ci, op('deployer', { publisher: 'any' })), undefined);
  assert.equal(accessProblem(ci, op('deployer', { publisher: 'named-channel', channel: 'test' })), undefined);
  assert.match(accessProblem(ci, op('deployer', { publisher: 'named-channel', channel: 'stable' }))!.message, /may promote only to "staging", "test", not to "stable"/);
  assert.match(accessProblem({ ...ci, channels: [] }, op('deployer', { publisher: 'named-channel', channel: 'test' }))!.message, /may promote only to no channel/);
  assert.match(accessProblem(ci, op('deployer'))!.message, /^token "ci" has role publisher; POST \/x \(x\) needs deployer or above$/);
  assert.match(accessProblem(ci, op('admin', { publisher: undefined }))!.message, /needs admin or above/);
  // Other roles are ranked: the publisher rule neither adds nor takes anything from them.
  assert.equal(accessProblem({ name: 'd', role: 'deployer' }, op('deployer', { publisher: 'named-channel', channel: 'stable' })), undefined);
  assert.deepEqual(accessProblem({ name: 'v', role: 'viewer' }, op('deployer', { publisher: 'any' }))?.details, { role: 'viewer', needs: 'deployer' });
});
