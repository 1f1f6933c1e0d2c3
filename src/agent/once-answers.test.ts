import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnceAnswers } from './once-answers.ts';

test('a repeated key gets the first answer, a running call is awaited, not run twice', async () => {
  const once = new OnceAnswers();
  let runs = 0;
  const call = async () => {
    runs += 1;
    await new Promise((r) => setTimeout(r, 10));
    return { port: 4000 + runs };
  };
  const [a, b] = await Promise.all([
    once.run('slot.start web/blue d1', call),
    once.run('slot.start web/blue d1', call),
  ]);
  assert.deepEqual(a, { port: 4001 });
  assert.equal(b, a);
  assert.deepEqual(await once.run('slot.start web/blue d1', call), { port: 4001 });
  assert.equal(runs, 1);
  assert.deepEqual(await once.run('slot.start web/blue d2', call), { port: 4002 });
});

test('a failure is not remembered, and answers are forgotten after ten minutes or beyond the last 256', async () => {
  let now = 0;
  const once = new OnceAnswers(() => now);
  await assert.rejects(once.run('k', () => Promise.reject(new Error('disk full'))));
  assert.equal(await once.run('k', async () => 'second try'), 'second try');
  now += 10 * 60_000;
  assert.equal(await once.run('k', async () => 'after ten minutes'), 'after ten minutes');
  for (let i = 0; i < 300; i++) await once.run(`key-${i}`, async () => i);
  assert.equal(await once.run('key-0', async () => 'forgotten'), 'forgotten');
  assert.equal(await once.run('key-299', async () => 'remembered?'), 299);
});

test('forget: a key under the prefix runs again; others keep their answer', async () => {
  const once = new OnceAnswers();
  let runs = 0;
  const call = async () => ++runs;
  await once.run('slot.start web/green d1', call);
  await once.run('slot.start web/blue d0', call);
  once.forget('slot.start web/green ');
  assert.equal(await once.run('slot.start web/green d1', call), 3, 'started again after its slot stopped');
  assert.equal(await once.run('slot.start web/blue d0', call), 2, 'the other slot keeps its answer');
});
