"""ASGI entry point for uvicorn and other servers: ``paperboy.web.asgi:app``."""

from paperboy.web.app import create_app

app = create_app()
