// getOrCompute against two instances on one Redis: one computation
// fleet-wide, a failed computation's lease given back, a write that
// overtakes the lease, a stale value served while one caller refreshes it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Client } from '../../src/index.js';
import { sleep, token, unique, urls } from '../support.js';

const pair = (namespace = 'default') => urls().map((url) => new Client(url, { namespace, token: token() }));

// Concurrently: each uses keys of its own, and two of them wait out a lease or a TTL.
describe('getOrCompute', { concurrency: true }, () => {
  test('fifty callers over two instances compute once', async () => {
    const clients = pair();
    const key = unique('report');
    let calls = 0;
    const compute = async () => { calls += 1; await sleep(300); return 'the report'; };
    const results = await Promise.all(Array.from({ length: 50 },
      (_, n) => clients[n % 2].getOrCompute(key, compute, { ttlMs: 30_000 })));
    assert.equal(calls, 1);
    assert.deepEqual(new Set(results.map((entry) => entry.text())), new Set(['the report']));
    assert.equal(results.filter((entry) => entry.source === 'computed').length, 1);
    assert.equal((await clients[1].get(key)).maxAgeS, 30);
  });

  test('a failed computation gives its lease to a waiter', async () => {
    const [a, b] = pair();
    const key = unique('fails');
    let fail;
    const failing = () => new Promise((_, reject) => { fail = () => reject(new Error('the backend is down')); });
    const first = a.getOrCompute(key, failing);
    while (!fail) await sleep(10);
    // Gives up well before the lease (1.5 s) runs out: only a lease given back
    // lets it compute and store.
    const second = b.getOrCompute(key, () => 'second try', { waitMs: 200, giveUpMs: 1200 });
    await sleep(100);
    fail();
    await assert.rejects(first, /backend is down/);
    assert.equal((await second).text(), 'second try');
    assert.equal((await a.get(key)).text(), 'second try');
  });

  test('an abandoned lease is taken over', async () => {
    const [a, b] = pair();
    const key = unique('abandoned');
    const answer = await a.send(a.protocol.leasedGet(key, 0));
    assert.notEqual(answer.headers.get('x-cache-lease'), 'pending');
    const entry = await b.getOrCompute(key, () => 'taken over', { waitMs: 500 });
    assert.deepEqual([entry.source, entry.text()], ['computed', 'taken over']);
    assert.equal((await a.get(key)).text(), 'taken over');
  });

  test('a write during the computation wins', async () => {
    const [a, b] = pair();
    const key = unique('overtaken');
    const entry = await a.getOrCompute(key, async () => { await b.put(key, "the writer's"); return 'computed'; });
    assert.deepEqual([entry.source, entry.text()], ['computed', 'computed']);
    assert.equal((await a.get(key)).text(), "the writer's");
  });

  test('a stale value is served while one caller refreshes it', async () => {
    const clients = pair('swr');
    const key = unique('swr');
    await clients[0].put(key, 'old');
    await sleep(400); // past its 300 ms TTL, within the 30 s stale window
    let calls = 0;
    let servedAll;
    const answered = new Promise((resolve) => { servedAll = resolve; });
    // The refresh lands only after all ten were answered.
    const compute = async () => { calls += 1; await Promise.race([answered, sleep(5000)]); return 'new'; };
    const served = await Promise.all(Array.from({ length: 10 },
      (_, n) => clients[n % 2].getOrCompute(key, compute)));
    servedAll();
    assert.deepEqual(new Set(served.map((entry) => `${entry.text()} ${entry.stale}`)), new Set(['old true']));
    assert.equal(served.filter((entry) => entry.refreshLease).length, 1);
    await Promise.all(clients.map((client) => client.close())); // the refresh has landed
    assert.equal((await clients[1].get(key)).text(), 'new');
    assert.equal(calls, 1);
  });
});
