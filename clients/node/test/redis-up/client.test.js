// Each call against the running fleet (two instances on one Redis): what its
// result says, ETag revalidation, and a typed error for each refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BadRequest, Client, NotFound, StaleLease, Unauthorized } from '../../src/index.js';
import { sleep, token, unique, urls } from '../support.js';

const pair = () => urls().map((url) => new Client(url, { token: token() }));

test('put, get, delete and a miss', async () => {
  const [a, b] = pair();
  const key = unique('job');
  assert.deepEqual(await a.put(key, '{"state": "done"}', { contentType: 'application/json' }),
    { where: 'redis', degraded: false });
  const here = await a.get(key);
  const there = await b.get(key);
  assert.deepEqual([here.source, there.source], ['hit-memory', 'hit-redis']);
  assert.deepEqual(here.json(), { state: 'done' });
  assert.equal(here.contentType, 'application/json');
  assert.equal(here.etag, there.etag);
  assert.equal(here.maxAgeS, 60);
  assert.equal(here.degraded, false);
  assert.ok(here.requestId);
  assert.equal((await b.delete(key)).where, 'redis');
  assert.equal(await a.get(key), null);
  assert.equal(await b.get(key), null);
});

test('bytes and ttlMs', async () => {
  const [a] = pair();
  const key = unique('blob');
  await a.put(key, Uint8Array.from([0, 255]), { ttlMs: 5000 });
  const entry = await a.get(key);
  assert.deepEqual([...entry.value], [0, 255]);
  assert.equal(entry.contentType, 'application/octet-stream');
  assert.equal(entry.maxAgeS, 5);
});

test('revalidation with the ETag', async () => {
  const [a, b] = pair();
  const key = unique('doc');
  await a.put(key, 'v1');
  const first = await b.get(key);
  const again = await b.get(key, { previous: first });
  assert.equal(again.notModified, true);
  assert.equal(again.text(), 'v1');
  const raw = await b.send(b.protocol.get(key, first));
  assert.deepEqual([raw.status, raw.body.length], [304, 0]);
  await a.put(key, 'v2');
  const changed = await b.get(key, { previous: first });
  assert.deepEqual([changed.notModified, changed.text()], [false, 'v2']);
});

test('tags and their invalidation over two instances', async () => {
  const [a, b] = pair();
  const [tag, tagged, other] = [unique('candidate'), unique('t'), unique('t')];
  await a.put(tagged, 'parse', { tags: [tag, 'job:7'] });
  await a.put(other, 'untouched', { tags: ['job:7'] });
  assert.equal((await b.get(tagged)).text(), 'parse'); // B holds it in memory
  const done = await a.invalidate([tag]);
  assert.deepEqual([done.tags, done.appliedIn], [[tag], 'redis']);
  const deadline = Date.now() + 5000;
  while ((await b.get(tagged)) !== null) { // B drops it once the change reaches it
    assert.ok(Date.now() < deadline, 'B still serves the tagged value');
    await sleep(20);
  }
  assert.equal((await b.get(other)).text(), 'untouched');
});

test('batches', async () => {
  const [a, b] = pair();
  const [k1, k2, k3] = [unique('m'), unique('m'), unique('m')];
  const stored = await a.mset({ [k1]: 'one', [k2]: { value: Uint8Array.from([1, 2]), contentType: 'image/png', ttlMs: 4000 } });
  assert.deepEqual(stored, { stored: { [k1]: 'redis', [k2]: 'redis' }, notStored: [], degraded: false });
  const found = await b.mget([k1, k3, k2]);
  assert.deepEqual([...found.keys()], [k1, k3, k2]);
  assert.equal(found.get(k3), null);
  assert.equal(found.get(k1).text(), 'one');
  assert.deepEqual([[...found.get(k2).value], found.get(k2).contentType], [[1, 2], 'image/png']);
  assert.deepEqual(await a.mdelete([k1, k2]), { [k1]: 'redis', [k2]: 'redis' });
  assert.deepEqual([...(await b.mget([k1, k2])).values()], [null, null]);
});

test('purge and its status', async () => {
  const cache = new Client(urls()[0], { namespace: 'purged', token: token() });
  await cache.put(unique('p'), 'x');
  const job = await cache.purge();
  assert.equal(job.namespace, 'purged');
  assert.equal((await cache.purgeStatus(job.id)).id, job.id);
  await assert.rejects(cache.purgeStatus('no-such-job'), (error) => error instanceof NotFound && error.code === 'unknown_purge');
});

test('typed errors', async () => {
  const url = urls()[0];
  const cache = new Client(url, { token: token() });
  const key = unique('e');
  await assert.rejects(cache.put(key, 'x', { ttlMs: 600_000 }),
    (error) => error instanceof BadRequest && error.status === 400 && error.code === 'bad_ttl_ms' && Boolean(error.requestId));
  await assert.rejects(cache.get('a/lease'), (error) => error instanceof BadRequest && error.status === 0);
  for (const wrong of [null, 'wrong']) {
    await assert.rejects(new Client(url, { token: wrong }).get(key),
      (error) => error instanceof Unauthorized && error.status === 401 && error.code === 'unauthorized');
  }
  await assert.rejects(new Client(url, { namespace: 'nowhere', token: token() }).get(key),
    (error) => error instanceof NotFound && error.code === 'unknown_namespace');
});

test('a lease overtaken by a write is stale', async () => {
  const [a, b] = pair();
  const key = unique('lease');
  const answer = await a.send(a.protocol.leasedGet(key, 0));
  const lease = answer.headers.get('x-cache-lease');
  await b.put(key, "someone else's");
  await assert.rejects(a.put(key, 'mine', { lease }), (error) => error instanceof StaleLease && error.status === 409);
  await assert.rejects(a.releaseLease(key, 'rNotTheLease'), StaleLease);
  assert.equal((await b.get(key)).text(), "someone else's");
});

test('health and status (the observe right: any token of the one-token form)', async () => {
  const cache = new Client(urls()[1], { token: token() });
  assert.equal((await cache.health()).status, 'healthy');
  assert.equal((await cache.status()).status, 'ok');
});
