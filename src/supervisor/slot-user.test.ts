import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { allocateSlotUid, parsePasswdLine, passwdUids, resolveSlotUser } from './slot-user.ts';

const ranges = fc
  .tuple(fc.integer({ min: 1000, max: 70_000 }), fc.integer({ min: 0, max: 60 }))
  .map(([first, width]) => ({ first, last: first + width }));

test('allocateSlotUid: the lowest free uid of the range, never a used one, undefined only when all are used', () => {
  fc.assert(
    fc.property(
      ranges,
      fc.array(fc.integer({ min: 900, max: 70_100 }), { maxLength: 80 }),
      (range, usedList) => {
        const used = new Set(usedList);
        const uid = allocateSlotUid(used, range);
        const free = [];
        for (let u = range.first; u <= range.last; u += 1) if (!used.has(u)) free.push(u);
        if (free.length === 0) assert.equal(uid, undefined);
        else {
          assert.equal(uid, free[0]);
          assert.ok(uid! >= range.first && uid! <= range.last);
          assert.ok(!used.has(uid!));
        }
      },
    ),
  );
});

test('allocateSlotUid: allocating one by one gives every instance its own uid until the range runs out', () => {
  fc.assert(
    fc.property(ranges, fc.integer({ min: 0, max: 80 }), (range, instances) => {
      const used = new Set<number>();
      const given: number[] = [];
      for (let i = 0; i < instances; i += 1) {
        const uid = allocateSlotUid(used, range);
        if (uid === undefined) break;
        used.add(uid);
        given.push(uid);
      }
      assert.equal(new Set(given).size, given.length);
      assert.equal(given.length, Math.min(instances, range.last - range.first + 1));
    }),
  );
});

test('passwd lines: name, uid and gid; junk is ignored', () => {
  assert.deepEqual(parsePasswdLine('www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin'), {
    name: 'www-data',
    uid: 33,
    gid: 33,
  });
  assert.equal(parsePasswdLine('# comment'), undefined);
  assert.equal(parsePasswdLine('bad:x:a:b'), undefined);
  assert.deepEqual(
    [...passwdUids('root:x:0:0::/root:/bin/sh\n\nnobody:x:65534:65534::/:/bin/false\n')],
    [0, 65534],
  );
});

test('resolveSlotUser: uid:gid, a bare uid, a name; root and unknown names are refused', async () => {
  assert.deepEqual(await resolveSlotUser('61000:62000'), { uid: 61000, gid: 62000 });
  assert.deepEqual(await resolveSlotUser('61000'), { uid: 61000, gid: 61000 });
  const nobody = await resolveSlotUser('nobody');
  assert.equal(nobody.uid, 65534);
  await assert.rejects(resolveSlotUser('root'), /root/);
  await assert.rejects(resolveSlotUser('0:5'), /root/);
  await assert.rejects(resolveSlotUser('no-such-user-here'), /not a user of this machine/);
});

// The supervisor relies on Node (libuv) calling setgroups(0) when it spawns with uid/gid, so a
// slot does not keep the agent's supplementary groups. Checked from a parent that has some.
test("spawn with uid/gid drops the parent's supplementary groups (root only)", (t) => {
  if (process.getuid?.() !== 0) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: this test must not be skipped there');
    t.skip('needs root');
    return;
  }
  const script = `
    const { spawnSync } = require('node:child_process');
    const parent = require('node:fs').readFileSync('/proc/self/status', 'utf8');
    const child = spawnSync('/bin/cat', ['/proc/self/status'], { uid: 61998, gid: 61998 }).stdout.toString();
    const field = (s, k) => s.split('\\n').find((l) => l.startsWith(k + ':')).slice(k.length + 1).trim();
    const groups = (s) => field(s, 'Groups');
    const ids = field;
    console.log(JSON.stringify({ parent: groups(parent), child: groups(child), uid: ids(child, 'Uid'), gid: ids(child, 'Gid'), cap: ids(child, 'CapEff') }));
  `;
  const run = spawnSync('setpriv', ['--groups', '4,27', process.execPath, '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as Record<string, string>;
  assert.match(seen.parent!, /\b4\b/);
  assert.equal(seen.child, '');
  assert.equal(seen.uid, '61998\t61998\t61998\t61998');
  assert.equal(seen.gid, '61998\t61998\t61998\t61998');
  assert.equal(seen.cap, '0000000000000000');
});
