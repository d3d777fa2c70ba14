// The service's OpenAPI operations and the client method that wraps each.
// A test holds this to the service's document (GET /openapi.json): an
// operation the document gains must be added here, to OPERATIONS (and to the
// client) or to NOT_WRAPPED with the reason.

export const OPERATIONS = Object.freeze({
  getEntry: 'get',
  putEntry: 'put',
  deleteEntry: 'delete',
  releaseLease: 'releaseLease',
  getMany: 'mget',
  putMany: 'mset',
  deleteMany: 'mdelete',
  invalidateTags: 'invalidate',
  purgeNamespace: 'purge',
  purgeStatus: 'purgeStatus',
  detailedHealth: 'health',
  status: 'status',
});

export const NOT_WRAPPED = Object.freeze({
  getEntryHead: 'get with previous revalidates with If-None-Match instead',
  liveness: "for orchestrators' probes",
  livenessHead: "for orchestrators' probes",
  readiness: "for orchestrators' probes",
  readinessHead: "for orchestrators' probes",
  detailedHealthHead: 'health reads the document',
  events: 'the connection journal, for operators',
  eventsHead: 'the connection journal, for operators',
  statusHead: 'status reads the document',
  metrics: 'for Prometheus',
  metricsHead: 'for Prometheus',
  openapi: 'for tools that read the document',
  openapiHead: 'for tools that read the document',
});
