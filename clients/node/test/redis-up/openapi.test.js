// The client follows the served OpenAPI document: every operation is wrapped
// by a client method or named, with the reason, as deliberately not wrapped.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, NOT_WRAPPED, OPERATIONS } from '../../src/index.js';
import { token, urls } from '../support.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// The document is an observing route: it needs the observe right (the token).
async function served() {
  const answer = await fetch(`${urls()[0]}/openapi.json`, { headers: { authorization: `Bearer ${token()}` } });
  assert.equal(answer.status, 200);
  return answer.json();
}

test('every operation of GET /openapi.json is wrapped or deliberately not', async () => {
  const document = await served();
  const ids = new Set();
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) if (item[method]) ids.add(item[method].operationId);
  }
  const missing = [...ids].filter((id) => !(id in OPERATIONS) && !(id in NOT_WRAPPED));
  assert.deepEqual(missing, [], 'operations the Node client does not wrap');
  const gone = [...Object.keys(OPERATIONS), ...Object.keys(NOT_WRAPPED)].filter((id) => !ids.has(id));
  assert.deepEqual(gone, [], 'names the document lacks');
  for (const method of Object.values(OPERATIONS)) {
    assert.equal(typeof Client.prototype[method], 'function', method);
  }
});

// One call per wrapped operation, as the client's protocol builds it.
const SAMPLES = {
  getEntry: (p) => p.get('k'),
  putEntry: (p) => p.put('k', 'v'),
  deleteEntry: (p) => p.delete('k'),
  releaseLease: (p) => p.releaseLease('k', 'rTok'),
  getMany: (p) => p.mget(['k']),
  putMany: (p) => p.mset({ k: 'v' }),
  deleteMany: (p) => p.mdelete(['k']),
  invalidateTags: (p) => p.invalidate(['t']),
  purgeNamespace: (p) => p.purge(),
  purgeStatus: (p) => p.purgeStatus('j'),
  detailedHealth: (p) => p.health(),
  status: (p) => p.status(),
};

test('each call goes to its operation\'s method and path', async () => {
  const document = await served();
  assert.deepEqual(Object.keys(SAMPLES).sort(), Object.keys(OPERATIONS).sort());
  const { protocol } = new Client(urls()[0]);
  let checked = 0;
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const sample = item[method] && SAMPLES[item[method].operationId];
      if (!sample) continue;
      const call = sample(protocol);
      const expected = path.replace('{namespace}', 'default').replace('{key}', 'k').replace('{job}', 'j');
      assert.deepEqual([call.method, call.path.split('?')[0]], [method.toUpperCase(), expected], item[method].operationId);
      checked += 1;
    }
  }
  assert.equal(checked, Object.keys(SAMPLES).length);
});
