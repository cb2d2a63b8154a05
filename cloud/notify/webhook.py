"""Webhooks: an HMAC-signed JSON POST to the owner's URL (an SMS or push gateway).

Headers:

- ``X-Aftercare-Delivery: dlv-…``: the delivery's stable id; a resend carries the same.
- ``X-Aftercare-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is
  HMAC-SHA256 with the owner's webhook secret as key over ``"<t>." + body`` (the exact
  bytes received). A receiver recomputes it, compares in constant time and rejects a
  ``t`` too far from its own clock (a replay).

2xx is success. 408, 429, 5xx and network errors are retried through the due-queue
with backoff; any other answer (including a redirect, which is never followed) is final.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Mapping

from cloud.notify.message import DeliveryError, Outgoing, payload

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "sign", "verify"]

SIGNATURE_HEADER = "X-Aftercare-Signature"
DELIVERY_HEADER = "X-Aftercare-Delivery"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300.0) -> bool:
    """What a receiver does: the signature matches ``body`` and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class WebhookSender:
    """POSTs with ``urllib`` (no redirects, a timeout); thread-safe."""

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects())

    def headers(self, message: Outgoing, body: bytes) -> Mapping[str, str]:
        secret = message.preferences.webhook_secret
        if secret is None:
            raise DeliveryError("the owner's webhook has no signing secret", retryable=False)
        return {
            "Content-Type": "application/json",
            "User-Agent": "aftercare-webhook/1",
            DELIVERY_HEADER: message.delivery_id,
            SIGNATURE_HEADER: sign(secret, int(message.sent_at), body),
        }

    def send(self, message: Outgoing) -> None:
        url = message.preferences.preferences.webhook_url
        if url is None:
            raise DeliveryError("the owner has no webhook URL set", retryable=False)
        body = payload(message)
        request = urllib.request.Request(
            url, data=body, headers=dict(self.headers(message, body)), method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            retry = exc.code >= 500 or exc.code in RETRYABLE_STATUS
            raise DeliveryError(f"webhook answered HTTP {exc.code}", retryable=retry) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"webhook {url}: {exc}") from None
