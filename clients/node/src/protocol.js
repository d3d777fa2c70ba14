// The protocol, without I/O: each operation as a request to send and a
// function that reads its answer (the Python client's protocol.py, in
// JavaScript). client.js sends what this builds.
//
//   protocol.get(key) -> {method, path, headers, body, read, extraWaitMs}
//   the answer {status, headers (a Headers), body (a Buffer)} -> call.read(answer)
//
// Keys are checked with the service's own rule before anything is sent: a
// key holding '/' would otherwise reach another route (".../lease").

import { BadRequest, errorFor } from './errors.js';

export const KEY_PATTERN = /^[A-Za-z0-9._~:-]{1,512}$/;
const NAMESPACE_PATTERN = /^[a-z0-9_]{1,64}$/;
const TEXT = 'text/plain; charset=utf-8';
const BYTES = 'application/octet-stream';
const JSON_TYPE = 'application/json';
const BATCH_SOURCES = { memory: 'hit-memory', redis: 'hit-redis' };

/** The bytes to send and their Content-Type (text for strings, else bytes). */
export function encode(value, contentType) {
  if (typeof value === 'string') return [Buffer.from(value, 'utf8'), contentType || TEXT];
  return [Buffer.from(value), contentType || BYTES];
}

export function checkKey(key) {
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
    throw new BadRequest(`Bad key ${JSON.stringify(key)}: keys are 1-512 characters of ` +
      'letters, digits and . _ ~ : -', { code: 'bad_key', body: { key: String(key) } });
  }
  return key;
}

function wholeOrNull(raw) {
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : null;
}

function maxAge(cacheControl) {
  for (const directive of (cacheControl || '').split(',')) {
    const [name, value] = directive.trim().split('=');
    if (name === 'max-age') return wholeOrNull(value ?? null);
  }
  return null;
}

/** An entry as every read returns it. */
export function makeEntry(fields) {
  return {
    etag: null, ageS: null, maxAgeS: null, stale: false, degraded: false, refreshLease: null,
    notModified: false, cacheStatus: null, requestId: null,
    ...fields,
    text() { return this.value.toString('utf8'); },
    json() { return JSON.parse(this.value.toString('utf8')); },
  };
}

/** A 200 hit's entry, from its headers. */
export function entryFrom(key, answer) {
  const h = answer.headers;
  return makeEntry({
    key, value: answer.body, contentType: h.get('content-type') || BYTES,
    source: h.get('x-cache') || 'hit-redis', etag: h.get('etag'),
    ageS: wholeOrNull(h.get('age')), maxAgeS: maxAge(h.get('cache-control')),
    stale: h.get('x-cache-stale') === 'true', degraded: h.has('x-cache-degraded'),
    refreshLease: h.get('x-cache-lease'), cacheStatus: h.get('cache-status'),
    requestId: h.get('x-request-id'),
  });
}

/** A 404 that is a miss (X-Cache: miss), not an unknown namespace. */
export function isMiss(answer) {
  return answer.status === 404 && answer.headers.get('x-cache') === 'miss';
}

/** The answer when its status is one of `statuses`; else throws its typed error. */
export function expect(answer, ...statuses) {
  if (!statuses.includes(answer.status)) throw errorFor(answer);
  return answer;
}

const readJson = (status) => (answer) => JSON.parse(expect(answer, status).body.toString('utf8'));

function stored(answer) {
  const h = expect(answer, 204).headers;
  return { where: h.get('x-cache-stored') === 'memory' ? 'memory' : 'redis',
    degraded: h.has('x-cache-degraded') };
}

function purgeJob(document) {
  return { id: document.id, namespace: document.namespace, state: document.state,
    unlinked: document.unlinked, forgottenInMemory: document.forgottenInMemory,
    startedAtMs: document.startedAtMs, finishedAtMs: document.finishedAtMs ?? null };
}

function batchValue(item, ttlMs) {
  const isNew = item !== null && typeof item === 'object' && !(item instanceof Uint8Array);
  const fields = isNew ? item : { value: item };
  const [body, contentType] = encode(fields.value, fields.contentType);
  const text = new TextDecoder('utf-8', { fatal: true });
  let entry;
  try {
    entry = { value: text.decode(body), encoding: 'utf-8' };
  } catch {
    entry = { value: body.toString('base64'), encoding: 'base64' };
  }
  entry.contentType = contentType;
  const chosen = fields.ttlMs ?? ttlMs;
  if (chosen !== undefined && chosen !== null) entry.ttl_ms = Math.trunc(chosen);
  return entry;
}

export class Protocol {
  constructor(namespace, token = null) {
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new TypeError(`Bad namespace ${JSON.stringify(namespace)}: lower-case letters, digits and _`);
    }
    this.namespace = namespace;
    this.token = token;
    this.headers = { 'user-agent': 'roleready-cache-client-node/0.1.0' };
    if (token) this.headers.authorization = `Bearer ${token}`;
  }

  path(key = null, suffix = '') {
    const base = `/cache/${this.namespace}`;
    return key === null ? base + suffix : `${base}/${checkKey(key)}${suffix}`;
  }

  call(method, path, read, { headers = {}, body = null, extraWaitMs = 0 } = {}) {
    return { method, path, read, headers: { ...this.headers, ...headers }, body, extraWaitMs };
  }

  get(key, previous = null) {
    const read = (answer) => {
      if (isMiss(answer)) return null;
      if (answer.status === 304 && previous) {
        const fresh = entryFrom(key, { ...answer, body: previous.value });
        return { ...fresh, contentType: previous.contentType, notModified: true };
      }
      return entryFrom(key, expect(answer, 200));
    };
    const headers = previous?.etag ? { 'if-none-match': previous.etag } : {};
    return this.call('GET', this.path(key), read, { headers });
  }

  leasedGet(key, waitMs) {
    const query = waitMs == null ? '?lease=1' : `?lease=1&wait_ms=${waitMs}`;
    return this.call('GET', this.path(key) + query, (answer) => answer,
      { extraWaitMs: waitMs ?? 30_000 });
  }

  put(key, value, { contentType, ttlMs, lease, tags } = {}) {
    const [body, type] = encode(value, contentType);
    const headers = { 'content-type': type };
    if (lease) headers['x-cache-lease'] = lease;
    if (tags && tags.length > 0) headers['x-cache-tags'] = [...tags].join(', ');
    const query = ttlMs == null ? '' : `?ttl_ms=${Math.trunc(ttlMs)}`;
    return this.call('PUT', this.path(key) + query, stored, { headers, body });
  }

  delete(key) {
    return this.call('DELETE', this.path(key), stored);
  }

  releaseLease(key, token) {
    return this.call('DELETE', this.path(key, '/lease'), (answer) => { expect(answer, 204); },
      { headers: { 'x-cache-lease': token } });
  }

  mget(keys) {
    const wanted = [...keys].map(checkKey);
    return this.jsonCall('/_mget', { keys: wanted }, (answer) => {
      const document = readJson(200)(answer);
      const degraded = answer.headers.has('x-cache-degraded');
      // A key the answer left `unread` (past the answer budget) is absent:
      // the client asks again for it.
      const found = new Map(document.misses.map((key) => [key, null]));
      for (const [key, hit] of Object.entries(document.hits)) {
        found.set(key, makeEntry({
          key, value: Buffer.from(hit.value, hit.encoding === 'base64' ? 'base64' : 'utf8'),
          contentType: hit.contentType, source: BATCH_SOURCES[hit.source] || 'hit-redis', degraded,
        }));
      }
      return found;
    });
  }

  mset(entries, { ttlMs } = {}) {
    const body = {};
    const pairs = entries instanceof Map ? entries.entries() : Object.entries(entries);
    for (const [key, item] of pairs) body[checkKey(key)] = batchValue(item, ttlMs);
    return this.jsonCall('/_mset', { entries: body }, (answer) => {
      const document = readJson(200)(answer);
      return { stored: document.stored, notStored: document.notStored,
        degraded: answer.headers.has('x-cache-degraded') };
    });
  }

  mdelete(keys) {
    const wanted = [...keys].map(checkKey);
    return this.jsonCall('/_mdelete', { keys: wanted }, (answer) => readJson(200)(answer).deleted);
  }

  jsonCall(suffix, document, read) {
    return this.call('POST', this.path(null, suffix), read,
      { headers: { 'content-type': JSON_TYPE }, body: Buffer.from(JSON.stringify(document)) });
  }

  /** Drop every value of the namespace carrying one of `tags`, fleet-wide. */
  invalidate(tags) {
    return this.jsonCall('/_invalidate', { tags: [...tags] }, readJson(200));
  }

  purge() {
    return this.call('DELETE', this.path(), (answer) => purgeJob(readJson(202)(answer)));
  }

  purgeStatus(jobId) {
    return this.call('GET', this.path(null, `/_purge/${encodeURIComponent(jobId)}`),
      (answer) => purgeJob(readJson(200)(answer)));
  }

  health() {
    return this.call('GET', '/health/detailed', readJson(200));
  }

  status() {
    return this.call('GET', '/api/status', readJson(200));
  }
}
