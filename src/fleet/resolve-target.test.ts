import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ChannelPointer, InstanceRecord, InstanceTarget } from '../store/index.ts';
import { lookupPointer, pointerIndex, resolveTarget } from './resolve-target.ts';

function pointer(app: string, channel: string, version: string): ChannelPointer {
  return { app, channel, version, movedAt: 0, movedBy: 'ci' };
}

function instance(target: InstanceTarget | null, currentVersion: string | null, app = 'shop'): Pick<InstanceRecord, 'app' | 'target' | 'currentVersion'> {
  return { app, target, currentVersion };
}

const INDEX = pointerIndex([pointer('shop', 'stable', '1.1.0'), pointer('shop', 'beta', '1.2.0-beta.1'), pointer('blog', 'stable', '3.0.0')]);

test('pointerIndex keeps one version per app and channel, the last one given winning', () => {
  const index = pointerIndex([pointer('shop', 'stable', '1.0.0'), pointer('shop', 'stable', '1.1.0')]);
  assert.equal(lookupPointer(index, 'shop', 'stable'), '1.1.0');
  assert.equal(lookupPointer(index, 'shop', 'beta'), null);
  assert.equal(lookupPointer(index, 'blog', 'stable'), null);
  assert.equal(lookupPointer(INDEX, 'blog', 'stable'), '3.0.0');
});

test('no target', () => {
  assert.deepEqual(resolveTarget(instance(null, '1.0.0'), INDEX), { kind: 'none' });
  assert.deepEqual(resolveTarget({ app: 'shop', currentVersion: null } as unknown as InstanceRecord, INDEX), { kind: 'none' });
});

test('an exact version', () => {
  assert.deepEqual(resolveTarget(instance({ version: '1.0.0' }, '1.0.0'), INDEX), { kind: 'version', version: '1.0.0', onTarget: true });
  assert.deepEqual(resolveTarget(instance({ version: '1.0.0' }, '0.9.0'), INDEX), { kind: 'version', version: '1.0.0', onTarget: false });
  assert.deepEqual(resolveTarget(instance({ version: '1.0.0' }, null), INDEX), { kind: 'version', version: '1.0.0', onTarget: false });
});

test('a channel, resolved per app', () => {
  assert.deepEqual(resolveTarget(instance({ channel: 'stable' }, '1.1.0'), INDEX), { kind: 'channel', channel: 'stable', version: '1.1.0', onTarget: true });
  assert.deepEqual(resolveTarget(instance({ channel: 'stable' }, '1.0.0'), INDEX), { kind: 'channel', channel: 'stable', version: '1.1.0', onTarget: false });
  assert.deepEqual(resolveTarget(instance({ channel: 'stable' }, '1.1.0', 'blog'), INDEX), { kind: 'channel', channel: 'stable', version: '3.0.0', onTarget: false });
});

test('a channel that points nowhere for the app resolves to null and is never on target', () => {
  assert.deepEqual(resolveTarget(instance({ channel: 'alpha' }, '1.1.0'), INDEX), { kind: 'channel', channel: 'alpha', version: null, onTarget: false });
  assert.deepEqual(resolveTarget(instance({ channel: 'beta' }, null, 'blog'), INDEX), { kind: 'channel', channel: 'beta', version: null, onTarget: false });
  assert.deepEqual(resolveTarget(instance({ channel: 'stable' }, null, 'nope'), INDEX), { kind: 'channel', channel: 'stable', version: null, onTarget: false });
});

test('property: agrees with a plain lookup over the pointer list', () => {
  const word = fc.constantFrom('a', 'b', 'c');
  const version = fc.constantFrom('1.0.0', '1.1.0', '2.0.0-rc.1');
  fc.assert(
    fc.property(
      fc.array(fc.record({ app: word, channel: word, version }), { maxLength: 10 }),
      word,
      fc.option(fc.oneof(fc.record({ version }), fc.record({ channel: word }))),
      fc.option(version),
      (ps, app, target, current) => {
        const pointers = ps.map((p) => pointer(p.app, p.channel, p.version));
        const got = resolveTarget(instance(target, current, app), pointerIndex(pointers));
        if (target === null) return assert.deepEqual(got, { kind: 'none' });
        if ('version' in target) return assert.deepEqual(got, { kind: 'version', version: target.version, onTarget: current === target.version });
        const last = pointers.findLast((p) => p.app === app && p.channel === target.channel);
        const expected = last?.version ?? null;
        assert.deepEqual(got, { kind: 'channel', channel: target.channel, version: expected, onTarget: expected !== null && expected === current });
      },
    ),
  );
});
