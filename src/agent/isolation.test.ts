import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingDirectory, isLoopbackHost, planIsolation } from './isolation.ts';

test('loopback addresses', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])
    assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'example.com', '128.0.0.1'])
    assert.ok(!isLoopbackHost(h), h);
});

test('root isolates by uid; anyone else shares its uid, with a warning, and a public router needs allowSharedUid', () => {
  assert.deepEqual(planIsolation({ euid: 0, httpHost: '0.0.0.0', allowSharedUid: false }), {
    isolation: 'uid',
  });
  const laptop = planIsolation({ euid: 1000, httpHost: '127.0.0.1', allowSharedUid: false });
  assert.equal(laptop.isolation, 'none');
  assert.match(laptop.warning!, /not root/);
  assert.equal(laptop.refusal, undefined);
  const exposed = planIsolation({ euid: 1000, httpHost: '0.0.0.0', allowSharedUid: false });
  assert.match(exposed.refusal!, /--allow-shared-uid/);
  assert.match(exposed.refusal!, /0\.0\.0\.0/);
  const accepted = planIsolation({ euid: 1000, httpHost: '0.0.0.0', allowSharedUid: true });
  assert.equal(accepted.refusal, undefined);
  assert.equal(accepted.isolation, 'none');
  assert.equal(planIsolation({ euid: undefined, httpHost: '::', allowSharedUid: false }).isolation, 'none');
});

test('blockingDirectory: owner, group and other bits, first blocker wins', () => {
  const user = { uid: 61000, gid: 61000 };
  const d = (path: string, mode: number, uid = 0, gid = 0) => ({ path, mode, uid, gid });
  assert.equal(blockingDirectory([d('/', 0o755), d('/tmp', 0o1777), d('/tmp/x', 0o711)], user), undefined);
  assert.equal(
    blockingDirectory([d('/', 0o755), d('/root', 0o700), d('/root/x', 0o700)], user)?.path,
    '/root',
  );
  assert.equal(blockingDirectory([d('/a', 0o750, 0, 61000)], user), undefined);
  assert.equal(
    blockingDirectory([d('/a', 0o705, 0, 61000)], user)?.path,
    '/a',
    'group bits apply to the group, not other bits',
  );
  assert.equal(blockingDirectory([d('/a', 0o700, 61000, 5)], user), undefined);
  assert.equal(blockingDirectory([d('/a', 0o077, 61000, 5)], user)?.path, '/a');
});
