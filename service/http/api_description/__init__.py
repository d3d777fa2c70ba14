"""The HTTP API described as an OpenAPI 3.1 document, as data beside the routes.

    parts.py          shared schemas, headers, parameters, the error answers
    cache_paths.py    /cache/{namespace}/{key} (and .../lease)
    batch_paths.py    _mget, _mset, _mdelete, the purge
    service_paths.py  /health*, /api/status, /metrics, /openapi.json
    document.py       all of it as DOCUMENT; for_instance() fits it to one instance
    table.py          the endpoint table of docs/api.md, rendered from DOCUMENT

service/http/openapi.py serves it. tests/service/test_api_description.py
holds the app's routes and the document's operations to the same set, and
tests/integration/test_openapi_fuzz.py holds the running service to the
document (schemathesis).
"""

from service.http.api_description.document import DOCUMENT, for_instance, operations

__all__ = ["DOCUMENT", "for_instance", "operations"]
