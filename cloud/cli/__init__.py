"""The ``aftercare`` command line (``python -m cloud.cli`` runs it too)."""

from cloud.cli.main import main

__all__ = ["main"]
