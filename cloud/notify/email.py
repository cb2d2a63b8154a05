"""Email over SMTP with the standard library's ``smtplib``.

``AFTERCARE_SMTP_URL`` is ``smtp://host:port`` (plain, for a local relay) or
``smtps://user:password@host:port`` (implicit TLS, with login). Credentials are refused
on a plain ``smtp://`` URL: they would cross the network in the clear. Each message
carries ``Message-ID: <delivery id@aftercare>`` and ``X-Aftercare-Delivery``, so a
mailbox or gateway can drop a resend.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from cloud.notify.message import DeliveryError, Outgoing, body_text, subject

__all__ = ["EmailSender", "SmtpConfig", "SmtpUrlInvalid"]


class SmtpUrlInvalid(ValueError):
    """AFTERCARE_SMTP_URL cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpConfig:
        """Parse ``smtp://host:port`` or ``smtps://user:password@host:port``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise SmtpUrlInvalid(f"AFTERCARE_SMTP_URL {url!r}: {exc}") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlInvalid(
                f"AFTERCARE_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}://"
            )
        if not parts.hostname:
            raise SmtpUrlInvalid(f"AFTERCARE_SMTP_URL {url!r} names no host")
        if parts.path not in ("", "/") or parts.query:
            raise SmtpUrlInvalid(f"AFTERCARE_SMTP_URL {url!r}: only scheme, login, host, port")
        tls = parts.scheme == "smtps"
        if parts.username is not None and not tls:
            raise SmtpUrlInvalid(
                "AFTERCARE_SMTP_URL: a login needs smtps:// (it would travel in the clear)"
            )
        if (parts.username is None) != (parts.password is None):
            raise SmtpUrlInvalid("AFTERCARE_SMTP_URL: give both user and password, or neither")
        return cls(
            host=parts.hostname,
            port=port or (465 if tls else 25),
            tls=tls,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            sender=sender,
        )


class EmailSender:
    """Sends one message per connection: deliveries are few and spread over the day."""

    def __init__(
        self, config: SmtpConfig, *, timeout_s: float = 10.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.tls = tls or ssl.create_default_context()

    def build(self, message: Outgoing) -> EmailMessage:
        address = message.preferences.preferences.email
        if address is None:
            raise DeliveryError("the owner has no email address set", retryable=False)
        email = EmailMessage()
        email["From"] = self.config.sender
        email["To"] = address
        email["Subject"] = subject(message.item)
        email["Date"] = formatdate(message.sent_at, usegmt=True)
        email["Message-ID"] = f"<{message.delivery_id}@aftercare>"
        email["X-Aftercare-Delivery"] = message.delivery_id
        email["X-Aftercare-Item"] = str(message.item.id)
        email.set_content(body_text(message))
        return email

    def send(self, message: Outgoing) -> None:
        email = self.build(message)
        config = self.config
        try:
            if config.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=self.timeout_s, context=self.tls
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=self.timeout_s)
            with client:
                if config.username is not None and config.password is not None:
                    client.login(config.username, config.password)
                client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {exc.recipients}", retryable=_transient(codes)
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=_transient([exc.smtp_code])
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {config.host}:{config.port}: {exc}") from None


def _transient(codes: list[int]) -> bool:
    """4xx replies are temporary by the SMTP standard; 5xx are final."""
    return any(400 <= code < 500 for code in codes)
