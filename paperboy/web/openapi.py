"""The OpenAPI document says every answer the service gives, not only the happy ones.

FastAPI documents a route's 200 and its validation 422. The rest come from layers the
routes never see, so they are added here, once, for every operation:

- 400 from the global NUL-character guard (web/errors.py), on every operation, and
  a pattern without NUL on every free-text input;
- 401 on every /api/ operation: a bad API token is refused even where none is needed
  (web/apitokens.py); the member's own operations also name how to sign in (security);
- 403 (CSRF refused) and 413 (body too large) from the community middleware, and 429
  (rate limited), on every unsafe method;
- 404 on every operation with a path parameter (an unknown id or a bad signed link);
- 303 on form posts, which answer a browser with a redirect.

Errors are JSON under /api/; elsewhere the HTML error page, or JSON for a client that
accepts only JSON (web/errors.py); the document names those content types, 422 included.
"""

from __future__ import annotations

from fastapi import FastAPI

SAFE = {"get", "head", "options"}
REASONS = {
    303: "Done; the browser is sent on to the next page",
    400: "Bad request: a NUL character, or a form value that cannot be used (the answer says which)",
    401: "Not signed in, or an Authorization header that is not a valid API token (WWW-Authenticate says which)",
    403: "Refused: missing or wrong CSRF token, or not permitted",
    404: "Not found (unknown id or invalid link)",
    413: "Request body too large",
    422: "Invalid parameter",
    429: "Too many requests; try again later",
}
ERROR_REF = "#/components/schemas/ErrorOut"


# The community middleware's own JSON refusals (403/413) carry only "detail".
MIDDLEWARE_ERROR = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}


def _error_content(path: str, status: int) -> dict:
    # Under /api/ a 429 has the API's whole shape (security._rate_limited).
    middleware = (403, 413) if path.startswith("/api/") else (403, 413, 429)
    schema = MIDDLEWARE_ERROR if status in middleware else {"$ref": ERROR_REF}
    json = {"application/json": {"schema": schema}}
    if path.startswith("/api/"):
        return json
    # A page's error is HTML, or JSON for a client that asks only for JSON (Accept).
    return {"text/html": {"schema": {"type": "string"}}, **json}


def _extra_statuses(path: str, method: str) -> list[int]:
    statuses = [400]
    if path.startswith("/api/"):  # a bad API token is refused on every route (web/apitokens.py)
        statuses.append(401)
    if "{" in path:
        statuses.append(404)
    if method not in SAFE:
        statuses += [403, 413, 429]
        if not path.startswith("/api/"):
            statuses.append(303)
    return statuses


# No text the service takes may contain NUL (PostgreSQL cannot store or compare it); the
# guard answers 400, so the document says so on every free-text input.
NO_NUL = r"^[^\u0000]*$"


def _forbid_nul(schema: dict) -> None:
    for sub in schema.get("anyOf", []):
        _forbid_nul(sub)
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = NO_NUL


# How a member's operations (those that answer 401) know who is asking.
SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer",
              "description": "A personal API token (pb_…), made on /account#tokens; read-only unless made with "
                             "write access (web/apitokens.py)"},
    "session": {"type": "apiKey", "in": "cookie", "name": "pb_session",
                "description": "A signed-in browser (forms also need the CSRF token)"},
}


def complete(document: dict) -> dict:
    """Add the answers every layer can give to each operation of ``document``."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if name.startswith("Body_"):  # form bodies
            for field in schema.get("properties", {}).values():
                _forbid_nul(field)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                _forbid_nul(parameter.get("schema", {}))
            responses = operation.setdefault("responses", {})
            if path.startswith("/api/") and "401" in responses:  # a member's own: who is asking
                operation["security"] = [{"token": []}, {"session": []}]
            for status in _extra_statuses(path, method):
                entry = responses.setdefault(str(status), {"description": REASONS[status]})
                if status == 303:
                    entry.pop("content", None)
                elif status >= 400:
                    entry["content"] = _error_content(path, status)
            if "422" in responses:
                responses["422"]["content"] = _error_content(path, 422)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (and to /docs)."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
