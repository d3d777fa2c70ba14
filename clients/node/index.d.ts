// Type declarations for roleready-cache-client (plain ESM JavaScript in src/).

export type Source = 'hit-memory' | 'hit-redis' | 'hit-fill' | 'computed';
export type Where = 'redis' | 'memory';
export type Value = string | Uint8Array;

/** A value read from the cache, and what the answer said about it. */
export interface Entry {
  key: string;
  value: Buffer;
  contentType: string;
  /** X-Cache, or "computed" for a value getOrCompute computed itself. */
  source: Source;
  etag: string | null;
  ageS: number | null;
  maxAgeS: number | null;
  /** Past its TTL, served within the namespace's stale window (X-Cache-Stale). */
  stale: boolean;
  /** Answered while the service could not reach Redis (X-Cache-Degraded). */
  degraded: boolean;
  /** The token this caller got to refresh the value (X-Cache-Lease on a hit). */
  refreshLease: string | null;
  /** A 304 to `previous`'s ETag: this is that copy with the answer's headers. */
  notModified: boolean;
  cacheStatus: string | null;
  requestId: string | null;
  text(): string;
  json(): unknown;
}

export interface Stored { where: Where; degraded: boolean; }
export interface StoredMany { stored: Record<string, Where>; notStored: string[]; degraded: boolean; }
export interface NewValue { value: Value; contentType?: string; ttlMs?: number; }
export interface PurgeJob {
  id: string;
  namespace: string;
  state: 'running' | 'done' | 'deferred';
  unlinked: number;
  forgottenInMemory: number;
  startedAtMs: number;
  finishedAtMs: number | null;
}

export interface ClientOptions {
  namespace?: string;
  token?: string | null;
  /** Per answer; a leased GET gets its wait on top. Default 5000. */
  timeoutMs?: number;
}

export interface PutOptions { contentType?: string; ttlMs?: number; lease?: string; tags?: Iterable<string>; }
/** The answer of an invalidation of tags. */
export interface Invalidation { tags: string[]; invalidatedAt: string; invalidatedAtUs: number; appliedIn: 'redis' | 'memory'; }
export interface GetOrComputeOptions {
  ttlMs?: number;
  contentType?: string;
  /** How long one leased GET waits in the service for the holder's value. */
  waitMs?: number;
  /** After this long without a value or a lease, compute here and store nothing. */
  giveUpMs?: number;
}

/** A raw answer: what `send` resolves to. */
export interface Answer { status: number; headers: Headers; body: Buffer; }
/** A request built by the protocol, and how its answer is read. */
export interface Call<T = unknown> {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** A leased GET may wait this long in the service (added to the timeout). */
  extraWaitMs: number;
  read(answer: Answer): T;
}
/** The protocol without I/O (src/protocol.js): each operation as a Call. */
export interface Protocol {
  readonly namespace: string;
  get(key: string, previous?: Entry | null): Call<Entry | null>;
  leasedGet(key: string, waitMs?: number | null): Call<Answer>;
  put(key: string, value: Value, options?: PutOptions): Call<Stored>;
  delete(key: string): Call<Stored>;
  releaseLease(key: string, token: string): Call<void>;
  mget(keys: Iterable<string>): Call<Map<string, Entry | null>>;
  mset(entries: Record<string, Value | NewValue> | Map<string, Value | NewValue>,
       options?: { ttlMs?: number }): Call<StoredMany>;
  mdelete(keys: Iterable<string>): Call<Record<string, Where>>;
  invalidate(tags: Iterable<string>): Call<Invalidation>;
  purge(): Call<PurgeJob>;
  purgeStatus(jobId: string): Call<PurgeJob>;
  health(): Call<Record<string, unknown>>;
  status(): Call<Record<string, unknown>>;
}

export class Client {
  constructor(baseUrl: string, options?: ClientOptions);
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly protocol: Protocol;
  /** Send a call; the raw answer (ConnectionFailed or Timeout when none came). */
  send(call: Call): Promise<Answer>;
  /** Send a call and read its answer. */
  run<T>(call: Call<T>): Promise<T>;
  withNamespace(namespace: string): Client;
  close(): Promise<void>;
  /** An entry, or null on a miss; with `previous`, If-None-Match its ETag. */
  get(key: string, options?: { previous?: Entry | null }): Promise<Entry | null>;
  put(key: string, value: Value, options?: PutOptions): Promise<Stored>;
  delete(key: string): Promise<Stored>;
  releaseLease(key: string, token: string): Promise<void>;
  /** Every key asked for, in order: its entry, or null on a miss. */
  mget(keys: Iterable<string>): Promise<Map<string, Entry | null>>;
  mset(entries: Record<string, Value | NewValue> | Map<string, Value | NewValue>,
       options?: { ttlMs?: number }): Promise<StoredMany>;
  mdelete(keys: Iterable<string>): Promise<Record<string, Where>>;
  invalidate(tags: Iterable<string>): Promise<Invalidation>;
  purge(): Promise<PurgeJob>;
  purgeStatus(jobId: string): Promise<PurgeJob>;
  health(): Promise<Record<string, unknown>>;
  status(): Promise<Record<string, unknown>>;
  getOrCompute(key: string, compute: () => Value | Promise<Value>,
               options?: GetOrComputeOptions): Promise<Entry>;
}

export interface ErrorDetails { status?: number; code?: string; requestId?: string | null;
  body?: Record<string, unknown>; retryAfter?: number; }
export class CacheError extends Error {
  constructor(message: string, details?: ErrorDetails);
  /** 0 for errors that never reached the service. */
  status: number;
  /** The JSON `error` member ("bad_key", "stale_lease", ...). */
  code: string;
  requestId: string | null;
  body: Record<string, unknown>;
}
export class ConnectionFailed extends CacheError {}
export class Timeout extends CacheError {}
export class BadRequest extends CacheError { readonly key: string | null; }
export class Unauthorized extends CacheError {}
export class Forbidden extends CacheError {}
export class NotFound extends CacheError {}
export class RequestTimeout extends CacheError {}
export class StaleLease extends CacheError {}
export class TooLarge extends CacheError {}
export class Unavailable extends CacheError { retryAfter: number; }
export class Overloaded extends Unavailable {}
export class NotStored extends Unavailable {}
export class ServerError extends CacheError {}

export const OPERATIONS: Readonly<Record<string, string>>;
export const NOT_WRAPPED: Readonly<Record<string, string>>;
