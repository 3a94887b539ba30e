"""The `winnow` command: thin wrappers over the library."""

from winnow.cli.app import app

__all__ = ["app"]
