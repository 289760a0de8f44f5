"""ASGI entry point for uvicorn and other servers: ``paperboy.asgi:app``."""

from paperboy.site import create_app

app = create_app()
