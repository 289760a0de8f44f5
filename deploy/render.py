#!/usr/bin/env python3
"""Fill a template of this folder from the environment: ``{{NAME}}`` becomes $NAME.

    PAPERBOY_UPSTREAMS=10.0.0.11:8000,10.0.0.12:8000 NGINX_LISTEN=80 \
        python3 deploy/render.py deploy/nginx.conf > /etc/nginx/nginx.conf

Standard library only, so it runs on a proxy host without Paperboy installed. Besides
the environment it knows ``UPSTREAM_SERVERS`` (one ``server`` line per address in
``PAPERBOY_UPSTREAMS``) and defaults for the rest (below). A placeholder with no value
is an error, never an empty string in the output.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULTS = {
    "NGINX_LISTEN": "80",
    "NGINX_SERVER_NAME": "_",
    "NGINX_USER": "www-data",
    "NGINX_PID_FILE": "/run/nginx.pid",
    "NGINX_STATE_DIR": "/var/lib/nginx",  # request bodies and responses buffered to disk
    "NGINX_LOG_DIR": "/var/log/nginx",
    "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
    "PAPERBOY_STATIC_DIR": str(HERE.parent / "paperboy" / "web" / "static"),
    "UPSTREAM_MAX_FAILS": "1",
    "UPSTREAM_FAIL_TIMEOUT": "10s",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def values(env: dict[str, str]) -> dict[str, str]:
    found = {**DEFAULTS, **{k: v for k, v in env.items() if v}}
    upstreams = [u.strip() for u in found.get("PAPERBOY_UPSTREAMS", "").replace(" ", ",").split(",") if u.strip()]
    if upstreams:
        found["UPSTREAM_SERVERS"] = "\n    ".join(
            f"server {u} max_fails={found['UPSTREAM_MAX_FAILS']} fail_timeout={found['UPSTREAM_FAIL_TIMEOUT']};"
            for u in upstreams)
    return found


def render(template: str, env: dict[str, str]) -> str:
    known = values(env)
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m not in known})
    if missing:
        hint = " (comma-separated host:port of the web nodes)" if "UPSTREAM_SERVERS" in missing else ""
        missing = ["PAPERBOY_UPSTREAMS" if m == "UPSTREAM_SERVERS" else m for m in missing]
        raise SystemExit(f"render.py: set {', '.join(missing)}{hint}")
    return _PLACEHOLDER.sub(lambda m: known[m.group(1)], template)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: render.py TEMPLATE > OUTPUT")
    try:
        template = Path(sys.argv[1]).read_text()
    except OSError as exc:
        raise SystemExit(f"render.py: cannot read {sys.argv[1]}: {exc.strerror}") from None
    sys.stdout.write(render(template, dict(os.environ)))


if __name__ == "__main__":
    main()
