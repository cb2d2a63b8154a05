"""Owner accounts and sign-in tokens, as the API takes and returns them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

MIN_PASSWORD_LENGTH = 10

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
    ),
]
"""A deliverable-looking address (one ``@``, a dotted domain, no spaces); whether it
really is the owner's is for an email check, not for a pattern."""
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password


class OwnerOut(BaseModel):
    owner_id: str
    email: str


class TokenOut(BaseModel):
    """The OAuth2 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    """Seconds until the token is refused."""
