"""Refuse requests that carry a NUL character (a 400, before any view runs).

NUL has no meaning in a path, a query or a form field, and PostgreSQL refuses it in text: a lookup such as
``/customers/?q=%00`` or ``/customers/A%00/`` was a 500 there (psycopg's DataError) and a silent non-match on
SQLite. Django's form fields already refuse it (``ProhibitNullCharactersValidator``); pages that read
``request.GET`` / ``request.POST`` directly did not. Multipart uploads are left to their views (parsing them
here would read the upload early), and the API validates its JSON bodies with patterns of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

NUL = "\x00"


def _has_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in v for v in values):
            return True
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        for key, values in request.POST.lists():
            if NUL in key or any(NUL in v for v in values):
                return True
    return False


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            raise BadRequest("a NUL character in the request")
        return self.get_response(request)
