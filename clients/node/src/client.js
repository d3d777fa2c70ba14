// The client: global fetch (Node >= 18; its keep-alive pool is undici's,
// per origin) under the protocol of protocol.js, and getOrCompute.
//
// getOrCompute(key, compute):
//   GET ?lease=1&wait_ms=W
//     200 (a hit, a stale one too) -> the value; with X-Cache-Lease (this
//         caller refreshes it: stale, or near its end) a background refresh
//     404 + X-Cache-Lease: <token> -> compute -> PUT with the token -> the value
//         compute threw -> DELETE .../lease (a waiter takes over) -> rethrow
//         PUT 409 stale_lease (the key moved on) or 503 -> the computed value, unstored
//     404 + X-Cache-Lease: pending (W ran out) -> again, until giveUpMs (W = 0: 50 ms apart)
//     404 without X-Cache-Lease (a service without leases) -> compute -> plain PUT
//     503 overloaded -> wait Retry-After -> again, until giveUpMs
//     past giveUpMs -> compute here, store nothing
// The service waits for the holder fleet-wide and hands an expired lease to
// a waiter; while Redis is down it leases per instance and answers without
// errors, so nothing here throws because of Redis.

import { CacheError, ConnectionFailed, Overloaded, StaleLease, Timeout, Unavailable, errorFor } from './errors.js';
import { Protocol, encode, entryFrom, isMiss, makeEntry } from './protocol.js';

// With waitMs 0 the service answers `pending` at once: pause between asks.
const PENDING_PAUSE_MS = 50;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class Client {
  /**
   * @param {string} baseUrl
   * @param {{namespace?: string, token?: string|null, timeoutMs?: number}} [options]
   */
  constructor(baseUrl, { namespace = 'default', token = null, timeoutMs = 5000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.protocol = new Protocol(namespace, token);
    this.timeoutMs = timeoutMs;
    this.refreshes = new Set();
  }

  /** The same service and token, another namespace. */
  withNamespace(namespace) {
    return new Client(this.baseUrl, { namespace, token: this.protocol.token, timeoutMs: this.timeoutMs });
  }

  /** Wait for background refreshes still running. */
  async close() {
    await Promise.allSettled([...this.refreshes]);
  }

  /** Send a call; the raw answer {status, headers, body}. */
  async send(call) {
    const signal = AbortSignal.timeout(this.timeoutMs + call.extraWaitMs);
    let response;
    let body;
    try {
      response = await fetch(this.baseUrl + call.path, {
        method: call.method, headers: call.headers, body: call.body, signal, redirect: 'manual',
      });
      body = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      if (error?.name === 'TimeoutError' || error?.name === 'AbortError') {
        throw new Timeout(`${call.method} ${call.path}: no answer in time`);
      }
      throw new ConnectionFailed(`${call.method} ${call.path}: ${error?.cause?.message || error}`);
    }
    return { status: response.status, headers: response.headers, body };
  }

  async run(call) {
    return call.read(await this.send(call));
  }

  // Async, so a bad key rejects rather than throws.
  async get(key, { previous = null } = {}) { return this.run(this.protocol.get(key, previous)); }
  async put(key, value, options = {}) { return this.run(this.protocol.put(key, value, options)); }
  async delete(key) { return this.run(this.protocol.delete(key)); }
  async releaseLease(key, token) { return this.run(this.protocol.releaseLease(key, token)); }
  /** Every key's entry (null: a miss), in the order asked; an answer the
   * service cut at its byte budget is continued with the keys it left. */
  async mget(keys) {
    const wanted = [...new Set(keys)];
    const found = new Map();
    let left = wanted;
    while (left.length > 0) {
      const before = found.size;
      for (const [key, entry] of await this.run(this.protocol.mget(left))) found.set(key, entry);
      if (found.size === before) throw new CacheError('an _mget answer read none of the keys asked for');
      left = left.filter((key) => !found.has(key));
    }
    return new Map(wanted.map((key) => [key, found.get(key)]));
  }
  async mset(entries, options = {}) { return this.run(this.protocol.mset(entries, options)); }
  async mdelete(keys) { return this.run(this.protocol.mdelete(keys)); }
  async invalidate(tags) { return this.run(this.protocol.invalidate(tags)); }
  async purge() { return this.run(this.protocol.purge()); }
  async purgeStatus(jobId) { return this.run(this.protocol.purgeStatus(jobId)); }
  async health() { return this.run(this.protocol.health()); }
  async status() { return this.run(this.protocol.status()); }

  /** The cached value, or compute()'s (sync or async), computed once fleet-wide. */
  async getOrCompute(key, compute, { ttlMs, contentType, waitMs, giveUpMs = 30_000 } = {}) {
    const plan = { key, compute, ttlMs, contentType, waitMs };
    const deadline = Date.now() + giveUpMs;
    for (;;) {
      const answer = await this.send(this.protocol.leasedGet(key, waitMs));
      if (answer.status === 200) {
        const entry = entryFrom(key, answer);
        if (entry.refreshLease) this.#background(plan, entry.refreshLease);
        return entry;
      }
      const token = answer.headers.get('x-cache-lease');
      // A miss without a lease (a service that hands out none): a plain PUT.
      if (isMiss(answer) && token !== 'pending') return this.#fill(plan, token);
      let pauseMs = waitMs === 0 ? PENDING_PAUSE_MS : 0; // wait_ms=0: no busy loop
      if (!isMiss(answer)) { // only a busy instance is waited for; the rest throw
        const error = errorFor(answer);
        if (!(error instanceof Overloaded)) throw error;
        pauseMs = error.retryAfter * 1000;
      }
      const left = deadline - Date.now();
      if (left <= 0) return computed(plan, await compute());
      if (pauseMs) await sleep(Math.min(pauseMs, left));
    }
  }

  /** Compute under the lease (also a stale value's background refresh) and
   * store with its token; give the lease back when computing fails. */
  async #fill(plan, token) {
    let entry;
    try {
      entry = computed(plan, await plan.compute());
    } catch (error) {
      if (token) await this.run(this.protocol.releaseLease(plan.key, token)).catch(() => {});
      throw error;
    }
    const answer = await this.send(this.protocol.put(plan.key, entry.value,
      { contentType: entry.contentType, ttlMs: plan.ttlMs, lease: token }));
    if (answer.status === 204) return entry;
    const error = errorFor(answer);
    // The key moved on, or the value could not be kept: still this caller's answer.
    if (error instanceof StaleLease || error instanceof Unavailable) return entry;
    throw error;
  }

  #background(plan, token) {
    const refresh = this.#fill(plan, token).catch((error) => {
      if (!(error instanceof CacheError)) process.emitWarning(`roleready-cache refresh failed: ${error}`);
    }).finally(() => this.refreshes.delete(refresh));
    this.refreshes.add(refresh);
  }
}

function computed(plan, value) {
  const [body, contentType] = encode(value, plan.contentType);
  return makeEntry({ key: plan.key, value: body, contentType, source: 'computed' });
}
