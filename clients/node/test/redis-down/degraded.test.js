// Against an instance whose Redis was killed (it allows one request in
// progress, so these run one after the other): answers say they are
// degraded, writes land in memory, getOrCompute computes once and never
// throws, and `overloaded` is typed with its Retry-After.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, Overloaded } from '../../src/index.js';
import { env, sleep, token, unique } from '../support.js';

const client = () => new Client(env('ROLEREADY_DOWN_URL'), { token: token() });

test('answers say they are degraded', async () => {
  const cache = client();
  const [key, other] = [unique('d'), unique('d')];
  assert.deepEqual(await cache.put(key, 'kept in memory'), { where: 'memory', degraded: true });
  const entry = await cache.get(key);
  assert.deepEqual([entry.text(), entry.source, entry.degraded], ['kept in memory', 'hit-memory', true]);
  const many = await cache.mset({ [other]: 'also' });
  assert.deepEqual([many.stored, many.degraded], [{ [other]: 'memory' }, true]);
  const found = await cache.mget([key, other]);
  assert.ok([...found.values()].every((hit) => hit && hit.degraded));
  assert.deepEqual(await cache.delete(key), { where: 'memory', degraded: true });
  assert.equal((await cache.health()).status, 'degraded');
});

test('getOrCompute without Redis', async () => {
  const cache = client();
  const key = unique('d');
  let calls = 0;
  const compute = () => { calls += 1; return 'computed without Redis'; };
  const first = await cache.getOrCompute(key, compute);
  const second = await cache.getOrCompute(key, compute);
  assert.deepEqual([first.source, first.text()], ['computed', 'computed without Redis']);
  assert.deepEqual([second.source, second.degraded, calls], ['hit-memory', true, 1]);
});

test('overloaded is typed with its Retry-After', async () => {
  const cache = client();
  const key = unique('busy');
  const granted = await cache.send(cache.protocol.leasedGet(key, 0));
  assert.notEqual(granted.headers.get('x-cache-lease'), 'pending');
  let busy = null;
  // A stalled machine may let a waiter end before a request lands: try again.
  for (let attempt = 0; attempt < 5 && !busy; attempt += 1) busy = await refusedWhileOneWaits(cache, key);
  assert.ok(busy instanceof Overloaded, 'never overloaded');
  assert.deepEqual([busy.status, busy.code, busy.retryAfter], [503, 'overloaded', 1]);
});

// While a leased GET waits for the holder (0.5 s; the one request in
// progress), other requests until one is refused.
async function refusedWhileOneWaits(cache, key) {
  let done = false;
  const waiter = cache.send(cache.protocol.leasedGet(key, 500)).finally(() => { done = true; });
  try {
    while (!done) {
      try {
        await cache.get(unique('other'));
      } catch (error) {
        if (error instanceof Overloaded) return error;
        throw error;
      }
      await sleep(10);
    }
    return null;
  } finally {
    await waiter;
  }
}
