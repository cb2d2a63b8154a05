"""Web pages served by the cloud (fleet and owner views) and Grafana dashboards."""

from importlib.resources import files


def read_page(name: str) -> str:
    """The packaged page ``static/<name>``, as text."""
    return (files("dashboards") / "static" / name).read_text(encoding="utf-8")
