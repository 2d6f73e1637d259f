"""Create and revoke API tokens (used by the CLI and the tests). The caller passes ``created_at``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from wattdesk.application.errors import InputError
from wattdesk.interfaces.api.models import ApiToken, hash_secret, new_secret


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; only its SHA-256 is stored


def create_token(*, username: str, name: str, created_at: datetime) -> IssuedToken:
    user: Any = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InputError(f"--user: unknown user {username!r}")
    if not user.is_active:
        raise InputError(f"--user: user {username!r} is not active")
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("--name: give a name of 1 to 100 characters")
    secret = new_secret()
    token = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_secret(secret), created_at=created_at
    )
    return IssuedToken(token=token, secret=secret)


def revoke_token(*, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise InputError(f"no API token with id {token_id}")
    if not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
    return token
