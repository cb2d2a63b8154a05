"""The fleet page: static HTML that reads the API with the token the user gives it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dashboards import static_dir

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def fleet_page() -> str:
    return (static_dir() / "index.html").read_text(encoding="utf-8")
