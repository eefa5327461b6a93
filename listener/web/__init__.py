"""The web app: `create_app(settings, store=...)` builds the FastAPI app; routers live beside it."""

from listener.web.app import create_app

__all__ = ["create_app"]
