// roleready-cache's Node client: zero dependencies (global fetch, Node >= 18).
//
//   import { Client } from 'roleready-cache-client';
//   const cache = new Client('http://127.0.0.1:8080', { namespace: 'default' });
//   await cache.put('job:42', JSON.stringify({ state: 'done' }), { contentType: 'application/json' });
//   const entry = await cache.get('job:42');      // an entry, or null on a miss
//   const report = await cache.getOrCompute('report:7', buildReport, { ttlMs: 60_000 });

export { Client } from './client.js';
export {
  BadRequest, CacheError, ConnectionFailed, Forbidden, NotFound, NotStored, Overloaded,
  RequestTimeout, ServerError, StaleLease, Timeout, TooLarge, Unauthorized, Unavailable,
} from './errors.js';
export { NOT_WRAPPED, OPERATIONS } from './operations.js';
