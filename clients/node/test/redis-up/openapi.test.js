// The client follows the served OpenAPI document: every operation is wrapped
// by a client method or named, with the reason, as deliberately not wrapped.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, NOT_WRAPPED, OPERATIONS } from '../../src/index.js';
import { urls } from '../support.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

test('every operation of GET /openapi.json is wrapped or deliberately not', async () => {
  const document = await (await fetch(`${urls()[0]}/openapi.json`)).json();
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
