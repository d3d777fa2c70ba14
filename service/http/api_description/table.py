"""The endpoint table of docs/api.md, rendered from the document (as
service/config/docs.py renders the settings table): one row per operation,
a HEAD twin folded into its GET's row, the query parameters shown on the
path. A test keeps the copy in MARKDOWN equal (regenerate with REGENERATE)."""

from __future__ import annotations

from service.http.api_description.document import DOCUMENT, METHODS
from service.http.api_description.parts import Json

MARKDOWN = "docs/api.md"
TABLE_BEGIN = "<!-- endpoints table: generated from service/http/api_description, do not edit -->"
TABLE_END = "<!-- end of endpoints table -->"
REGENERATE = (
    ".venv/bin/python -c 'from service.http.api_description.table import markdown_table; "
    "print(markdown_table())'"
)


def _query(operation: Json) -> str:
    """`[?name=value&...]` for the query parameters: an enum's last value, else N."""
    shown = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query":
            enum = parameter["schema"].get("enum")
            shown.append(f"{parameter['name']}={enum[-1] if enum else 'N'}")
    return f"[?{'&'.join(shown)}]" if shown else ""


def rows(document: Json = DOCUMENT) -> list[tuple[str, str]]:
    """(methods and path, what) per operation; HEAD joins its GET."""
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or (method == "head" and "get" in item):
                continue
            methods = "GET, HEAD" if method == "get" and "head" in item else method.upper()
            found.append((f"{methods} {path}{_query(operation)}", operation["description"]))
    return found


def markdown_table(document: Json = DOCUMENT) -> str:
    lines = ["| method, path | what |", "|---|---|"]
    lines += [f"| {where} | {what.replace('|', chr(92) + '|')} |" for where, what in rows(document)]
    return "\n".join(lines)
