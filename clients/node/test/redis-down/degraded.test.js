// Against an instance whose Redis was killed (it allows one request in
// progress, so these run one after the other): answers say they are
// degraded, writes land in memory, getOrCompute computes once and never
// throws, and `overloaded` is typed with its Retry-After.
import assert from 'node:assert/strict';
import net from 'node:net';
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
  // The one request in progress this instance allows: a PUT whose body never
  // finishes arriving (it holds its slot until the body timeout).
  const url = new URL(env('ROLEREADY_DOWN_URL'));
  const slow = net.connect(Number(url.port), url.hostname);
  await new Promise((resolve) => slow.once('connect', resolve));
  slow.write(`PUT /cache/default/${unique('slow')} HTTP/1.1\r\nHost: cache\r\n`
    + `Authorization: Bearer ${token()}\r\nContent-Length: 10\r\n\r\nv`);
  try {
    const busy = await refused(client());
    assert.deepEqual([busy.status, busy.code, busy.retryAfter], [503, 'overloaded', 1]);
  } finally {
    slow.destroy();
  }
});

// Requests until one is refused (the slow PUT may take a moment to land).
async function refused(cache) {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      await cache.get(unique('other'));
    } catch (error) {
      if (error instanceof Overloaded) return error;
      throw error;
    }
    await sleep(10);
  }
  throw new Error('never overloaded');
}
