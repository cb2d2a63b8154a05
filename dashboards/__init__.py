"""Web pages served by the cloud (service dashboard, owner app, manufacturer view) and
Grafana dashboards."""

from importlib.resources import files
from pathlib import Path


def read_page(name: str) -> str:
    """The packaged page ``static/<name>``, as text."""
    return (files("dashboards") / "static" / name).read_text(encoding="utf-8")


def static_folder() -> Path:
    """The folder of the pages' scripts and styles (the package is installed as files,
    editable or from a wheel, never zipped)."""
    return Path(str(files("dashboards") / "static"))
