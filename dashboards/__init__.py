"""Web pages served by the cloud (fleet and owner views) and Grafana dashboards."""

from importlib.resources import files
from importlib.resources.abc import Traversable


def static_dir() -> Traversable:
    """Where the packaged pages live."""
    return files("dashboards") / "static"
