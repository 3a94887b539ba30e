"""The Winnow server: Segment-compatible ingestion, the REST API and real-time scoring."""

from winnow.server.app import create_app
from winnow.server.settings import Settings

__all__ = ["Settings", "create_app"]
