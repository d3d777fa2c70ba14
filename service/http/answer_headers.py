"""Headers every answer carries, and what a stored active content type gets.

    every answer ─► Server: roleready-cache
                 ─► X-Content-Type-Options: nosniff
                 ─► Content-Security-Policy: default-src 'none'; sandbox
    a hit whose stored type a browser would run (HTML, SVG, XML, JavaScript)
                 ─► its stored Content-Type, as stored
                 ─► Content-Disposition: attachment

Why: values are whatever callers PUT, with the Content-Type they gave. A
browser that opened `/cache/ns/k` holding `text/html` with a `<script>` would
run it on the service's origin, where it could read every key. `sandbox`
(without `allow-scripts`) runs no script and gives the document an opaque
origin; `default-src 'none'` loads nothing; nosniff stops a browser from
guessing HTML in a value stored as text/plain. The stored type is kept, so
callers get back exactly what they stored; `attachment` additionally has a
browser save an active document instead of rendering it, for browsers that
ignore the policy.

The cost: a hit's headers come from templates kept per content type, and
are serialized once per stored value (service.http.hits), so on a hit these
are two more lines in bytes written as they are; `stamp` adds them to
every other answer in the request layer, and to the answers aiohttp would
give before any route runs (service.http.early_errors).
"""

from __future__ import annotations

from multidict import CIMultiDict, istr

# The Server header, instead of aiohttp's "Python/3.x aiohttp/3.y" (which it
# only adds to an answer that has none): names no versions.
SERVER = "roleready-cache"
X_CONTENT_TYPE_OPTIONS = istr("X-Content-Type-Options")
CONTENT_SECURITY_POLICY = istr("Content-Security-Policy")
CONTENT_DISPOSITION = istr("Content-Disposition")
NOSNIFF = "nosniff"
POLICY = "default-src 'none'; sandbox"
ATTACHMENT = "attachment"
CONSTANT = {X_CONTENT_TYPE_OPTIONS: NOSNIFF, CONTENT_SECURITY_POLICY: POLICY}
# Media types a browser renders as a document or runs as a script.
_ACTIVE = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
    "text/xsl", "application/xslt+xml", "text/javascript", "application/javascript",
    "application/ecmascript", "text/ecmascript", "application/x-javascript",
    "text/x-javascript", "application/pdf", "multipart/x-mixed-replace",
})


def is_active(content_type: str) -> bool:
    """Would a browser render or run a value of `content_type`? Parameters
    and case do not matter; any `+xml` type (XHTML, SVG, ...) is one."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _ACTIVE or media.endswith("+xml")


def stamp(headers: CIMultiDict[str]) -> None:
    """Add the constant headers to an answer's `headers`."""
    headers[X_CONTENT_TYPE_OPTIONS] = NOSNIFF
    headers[CONTENT_SECURITY_POLICY] = POLICY
