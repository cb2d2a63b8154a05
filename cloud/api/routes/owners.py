"""Owner accounts: sign-up, and sign-in through the OAuth2 password flow."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from cloud.api.deps import ReposDep
from cloud.api.schemas.owners import OwnerIn, OwnerOut, TokenOut
from cloud.db.owners import EmailTaken

router = APIRouter(tags=["owners"])


@router.post("/owners", status_code=status.HTTP_201_CREATED)
def create_owner(body: OwnerIn, repos: ReposDep) -> OwnerOut:
    """Open an owner account (409 when the email, ignoring case, has one already)."""
    try:
        owner = repos.owners.create(body.email, body.password)
    except EmailTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return OwnerOut(owner_id=owner.id, email=owner.email)


@router.post("/auth/token")
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], repos: ReposDep) -> TokenOut:
    """Sign in with ``username`` (the email) and ``password`` as a form; the token
    expires after ``expires_in`` seconds (``AFTERCARE_OWNER_TOKEN_TTL_S``)."""
    signed_in = repos.owners.sign_in(form.username, form.password)
    if signed_in is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenOut(access_token=signed_in.token, expires_in=math.floor(signed_in.expires_in_s))
