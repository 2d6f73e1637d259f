"""What every endpoint shares: the caller, the capability check, pagination."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination

from wattdesk.domain.access.queries import capabilities

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def caller(request: Any) -> Any:
    """The authenticated user (token or session)."""
    return request.auth


def require(request: Any, *any_of: str) -> Any:
    """The caller, if they hold one of ``any_of``; 403 otherwise (the reason names no object)."""
    user = caller(request)
    if not capabilities(user) & set(any_of):
        raise HttpError(403, f"permission denied: needs {' or '.join(any_of)}")
    return user


class Pages(PageNumberPagination):
    """``?page=`` (1-based) and ``?page_size=`` (at most 500); the response is ``{items, count}``."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(page_size=DEFAULT_PAGE_SIZE, max_page_size=MAX_PAGE_SIZE, **kwargs)


def ordered(qs: QuerySet[Any], *fields: str) -> QuerySet[Any]:
    return qs.order_by(*fields)
