"""The web pages: static HTML from the ``dashboards`` package that reads the API with the
token the user gives it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dashboards import read_page


def router() -> APIRouter:
    """Pages are read once, when the API is built, not on every request."""
    fleet = read_page("index.html")
    pages = APIRouter(include_in_schema=False)

    @pages.get("/", response_class=HTMLResponse)
    def fleet_page() -> str:
        return fleet

    return pages
