"""Sending a run's report to a cloud (``aftercare sim run --api URL --token TOKEN``).

Standard library HTTP only, so the simulator needs nothing more on a CI runner. Every
way it can fail becomes :class:`UploadFailed` with a message that says what to do.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

API_SUFFIX = "/api/v1"
TIMEOUT_S = 15.0


class UploadFailed(Exception):
    """The report did not reach the cloud, or the cloud refused it; the message says why."""


@dataclass(frozen=True)
class RecordTarget:
    """Where to record runs: the cloud's API (``http://host:port/api/v1``; the bare
    ``http://host:port`` is taken to mean the same), a service or manufacturer token,
    and who reports (a CI job, a host)."""

    api_url: str
    token: str
    reported_by: str = ""

    def __post_init__(self) -> None:
        api_base(self.api_url)  # raises ValueError for an address that cannot be one
        if not self.token.strip():
            raise ValueError("recording a run needs a token: --token or AFTERCARE_API_TOKEN")


def api_base(url: str) -> str:
    """The API's base address, ending in ``/api/v1``. Raises ValueError for anything
    that is not an http(s) address."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"--api {url!r} is not the cloud's address: give http(s)://host:port/api/v1"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(API_SUFFIX):
        path += API_SUFFIX
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def page_url(api_url: str) -> str:
    """Where people see the recorded runs: the manufacturer view."""
    return api_base(api_url).removesuffix(API_SUFFIX) + "/manufacturer"


def _detail(body: bytes) -> str:
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:300]
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg', '')}"
            for d in detail
            if isinstance(d, dict)
        )
    return str(detail)


def _refusal(status: int, url: str, detail: str) -> str:
    if status == 401:
        return "the cloud refused the token: check --token (or AFTERCARE_API_TOKEN)"
    if status == 403:
        return "this token may not record simulation runs: use a manufacturer or service token"
    if status == 404:
        return f"{url} has no simulation runs: is --api the cloud's API address?"
    if status == 422:
        return f"the cloud refused the report: {detail}"
    return f"the cloud answered {status} at {url}: {detail or 'no reason given'}"


def post_report(api_url: str, token: str, payload: dict[str, Any]) -> int:
    """POST the report; returns the recorded run's id. Raises UploadFailed."""
    url = api_base(api_url) + "/sim-runs"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            recorded = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UploadFailed(_refusal(exc.code, url, _detail(exc.read()))) from None
    except urllib.error.URLError as exc:
        raise UploadFailed(f"cannot reach the cloud at {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise UploadFailed(f"no answer from the cloud at {url}: {exc}") from None
    try:
        return int(recorded["id"])
    except (TypeError, KeyError, ValueError):
        raise UploadFailed(f"{url} answered, but not with a recorded run") from None
