"""The OpenAPI document says every answer the service gives, not only the happy ones.

FastAPI documents a route's 200 and its validation 422. The rest come from layers the
routes never see, so they are added here, once, for every operation:

- 400 from the global NUL-character guard (web/errors.py), on every operation;
- 403 (CSRF refused) and 413 (body too large) from the community middleware, and 429
  (rate limited), on every unsafe method;
- 404 on every operation with a path parameter (an unknown id or a bad signed link);
- 303 on form posts, which answer a browser with a redirect.

Errors are JSON under /api/ and the HTML error page elsewhere (web/errors.py), and the
document names that content type, 422 included.
"""

from __future__ import annotations

from fastapi import FastAPI

SAFE = {"get", "head", "options"}
REASONS = {
    303: "Done; the browser is sent on to the next page",
    400: "The request contains a NUL character",
    403: "Refused: missing or wrong CSRF token, or not permitted",
    404: "Not found (unknown id or invalid link)",
    413: "Request body too large",
    422: "Invalid parameter",
    429: "Too many requests; try again later",
}
ERROR_REF = "#/components/schemas/ErrorOut"


def _error_content(path: str) -> dict:
    if path.startswith("/api/"):
        return {"application/json": {"schema": {"$ref": ERROR_REF}}}
    return {"text/html": {"schema": {"type": "string"}}}


def _extra_statuses(path: str, method: str) -> list[int]:
    statuses = [400]
    if "{" in path:
        statuses.append(404)
    if method not in SAFE:
        statuses += [403, 413, 429]
        if not path.startswith("/api/"):
            statuses.append(303)
    return statuses


def complete(document: dict) -> dict:
    """Add the answers every layer can give to each operation of ``document``."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _extra_statuses(path, method):
                entry = responses.setdefault(str(status), {"description": REASONS[status]})
                if status == 303:
                    entry.pop("content", None)
                elif status >= 400:
                    entry["content"] = _error_content(path)
            if "422" in responses:
                responses["422"]["content"] = _error_content(path)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (and to /docs)."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
