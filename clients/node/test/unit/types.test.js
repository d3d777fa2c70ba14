// index.d.ts declares what src/ exports (no TypeScript compiler here: the
// declarations are read as text): every exported name, and every method of
// the Client class. And errors are typed from the JSON `error` member
// whatever the Content-Type (RFC 9457 problem details included).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as client from '../../src/index.js';
import { Forbidden, NotStored, StaleLease, Unauthorized } from '../../src/index.js';
import { errorFor } from '../../src/errors.js';

const declarations = readFileSync(new URL('../../index.d.ts', import.meta.url), 'utf8');

test('index.d.ts declares every export and every Client method', () => {
  const declared = new Set([...declarations.matchAll(/^export (?:class|const) (\w+)/gm)].map((m) => m[1]));
  assert.deepEqual([...declared].sort(), Object.keys(client).sort());
  const body = declarations.slice(declarations.indexOf('export class Client {'));
  const classBody = body.slice(0, body.indexOf('\n}'));
  const methods = Object.getOwnPropertyNames(client.Client.prototype)
    .filter((name) => name !== 'constructor');
  for (const method of methods) assert.match(classBody, new RegExp(`\\n  ${method}(?:<[^>]*>)?\\(`), method);
});

const answer = (status, contentType, document, headers = {}) => ({
  status, body: Buffer.from(JSON.stringify(document)),
  headers: new Headers({ 'content-type': contentType, ...headers }),
});

test('the error code is read whatever the Content-Type', () => {
  const problem = { type: 'https://example.test/docs/api.md#stale_lease', title: 'Stale lease',
    status: 409, detail: "This lease is no longer the key's.", error: 'stale_lease' };
  for (const type of ['application/json', 'application/problem+json']) {
    const error = errorFor(answer(409, type, problem));
    assert.ok(error instanceof StaleLease);
    assert.deepEqual([error.code, error.message], ['stale_lease', "This lease is no longer the key's."]);
  }
  assert.ok(errorFor(answer(403, 'application/problem+json', { error: 'forbidden' })) instanceof Forbidden);
  const notStored = errorFor(answer(503, 'application/json', { error: 'not_stored' }, { 'retry-after': '2' }));
  assert.ok(notStored instanceof NotStored);
  assert.equal(notStored.retryAfter, 2);
  assert.ok(errorFor({ status: 401, body: Buffer.from('<html>'), headers: new Headers() }) instanceof Unauthorized);
});
