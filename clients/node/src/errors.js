// Typed errors: every answer the service refuses becomes one class per kind.
//
//   an answer that is not a success
//     -> its JSON `error` member (whatever the Content-Type: today's
//        application/json and RFC 9457's application/problem+json both carry it)
//     -> the class for that code (stale_lease, overloaded, not_stored), else
//        the class for the status (400, 401, 403, 404, 408, 413, 5xx)
//
// A miss is not an error: get() resolves to null.

export class CacheError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, requestId?: string|null, body?: object}} [details]
   */
  constructor(message, details = {}) {
    super(message);
    this.name = new.target.name;
    this.status = details.status ?? 0;
    this.code = details.code ?? '';
    this.requestId = details.requestId ?? null;
    this.body = details.body ?? {};
  }
}

/** The service could not be reached, or the connection broke. */
export class ConnectionFailed extends CacheError {}
/** No (complete) answer within the client's timeout. */
export class Timeout extends CacheError {}
/** 400: a bad key, ttl_ms, body or parameter; nothing changed. */
export class BadRequest extends CacheError {
  /** The refused key of a batch, when the service named one. */
  get key() { return typeof this.body.key === 'string' ? this.body.key : null; }
}
export class Unauthorized extends CacheError {}
export class Forbidden extends CacheError {}
/** 404 that is not a miss: an unknown namespace or purge job. */
export class NotFound extends CacheError {}
export class RequestTimeout extends CacheError {}
/** 409: the lease is no longer the key's; nothing changed. */
export class StaleLease extends CacheError {}
export class TooLarge extends CacheError {}
/** A 503: retry after `retryAfter` seconds. */
export class Unavailable extends CacheError {
  constructor(message, details = {}) {
    super(message, details);
    this.retryAfter = details.retryAfter ?? 1;
  }
}
/** 503 `overloaded`: too many requests in progress on that instance. */
export class Overloaded extends Unavailable {}
/** 503 `not_stored`: too large for memory while Redis is unreachable. */
export class NotStored extends Unavailable {}
export class ServerError extends CacheError {}

const BY_CODE = {
  stale_lease: StaleLease, overloaded: Overloaded, not_stored: NotStored,
  unauthorized: Unauthorized, forbidden: Forbidden,
};
const BY_STATUS = {
  400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 408: RequestTimeout,
  409: StaleLease, 413: TooLarge, 503: Unavailable,
};

/** The answer's JSON object, or {} when it is not one. */
export function jsonBody(bytes) {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** Retry-After in seconds (the service sends delta-seconds). */
export function retryAfter(headers, fallback = 1) {
  const seconds = Number(headers.get('retry-after'));
  return headers.has('retry-after') && Number.isFinite(seconds) ? Math.max(0, seconds) : fallback;
}

/** The typed error for a refused answer ({status, headers, body}). */
export function errorFor(answer) {
  const document = jsonBody(answer.body);
  const code = typeof document.error === 'string' ? document.error : '';
  const message = document.detail || document.message || `HTTP ${answer.status}`;
  const Kind = BY_CODE[code] || BY_STATUS[answer.status] ||
    (answer.status >= 500 ? ServerError : CacheError);
  return new Kind(String(message), {
    status: answer.status, code, body: document,
    requestId: answer.headers.get('x-request-id'),
    retryAfter: retryAfter(answer.headers),
  });
}
