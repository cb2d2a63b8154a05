"""Device tags as the API takes and returns them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$")]
"""Lower-case letters, digits and ``_ . : -``: safe in a URL and a query string."""


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(max_length=32)


class TagsOut(BaseModel):
    device_id: str
    tags: list[str]
