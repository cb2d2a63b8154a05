"""The web pages: the service dashboard at ``/``, the owner app at ``/app`` and the
manufacturer view at ``/manufacturer``, static HTML from the ``dashboards`` package that
reads the API with the token the user signs in with. Their scripts, styles and images
are served under ``/static/``; nothing comes from a CDN."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from dashboards import read_page, static_folder

PAGES = {"/": "service.html", "/app": "owner.html", "/manufacturer": "manufacturer.html"}


def install_pages(app: FastAPI) -> None:
    """Pages are read once, when the API is built, not on every request."""
    pages = APIRouter(include_in_schema=False)
    for path, name in PAGES.items():
        pages.add_api_route(path, _page(read_page(name)), response_class=HTMLResponse)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=static_folder()), name="static")


def _page(html: str) -> Callable[[], HTMLResponse]:
    def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    return page
