"""One shape for every error the REST API answers (docs/api.md):

    {"error": "<code>", "message": "<text for people, translated>", "fields"?: {name: [text]}}

plus `retry_after` (seconds) when rate limited. DRF's exceptions, and Django's Http404 and
PermissionDenied raised in an API view, become this shape in `exception_handler`
(REST_FRAMEWORK["EXCEPTION_HANDLER"]); a view that refuses something itself answers with
`error_response`. Codes are those of the sockets where the two meet (`invalid`,
`forbidden`, `not_found`, `rate_limited`), so a client handles both alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.encoding import force_str
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# Most specific first: every DRF exception is an APIException.
CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "invalid"),
    # A malformed body is an invalid request, as for the widget (PROTOCOL.md).
    (exceptions.ParseError, "invalid"),
    (exceptions.NotAuthenticated, "unauthorized"),
    (exceptions.AuthenticationFailed, "unauthorized"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
)
NON_FIELD_KEYS = ("non_field_errors", "__all__")


def error_body(code: str, message: str, *, fields: Mapping | None = None) -> dict:
    body: dict = {"error": code, "message": force_str(message)}
    normalised = field_errors(fields) if fields else {}
    if normalised:
        body["fields"] = normalised
    return body


def error_response(code: str, message: str, *, status: int, fields: Mapping | None = None) -> Response:
    """A refusal in the API's error shape, for views that decide it themselves."""
    return Response(error_body(code, message, fields=fields), status=status)


def field_errors(fields: Mapping, prefix: str = "") -> dict[str, list[str]]:
    """{name: [text]}: a bare text becomes a list of one; nested errors (a list's items, a
    nested object's fields) get dotted names, such as `queue_ids.0`."""
    flat: dict[str, list[str]] = {}
    for name, value in fields.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(field_errors(value, prefix=f"{key}."))
        elif isinstance(value, list | tuple) and any(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat.update(field_errors(item, prefix=f"{key}.{index}."))
                elif item:
                    flat.setdefault(key, []).append(force_str(item))
        elif isinstance(value, list | tuple):
            flat[key] = [force_str(item) for item in value]
        else:
            flat[key] = [force_str(value)]
    return flat


def _validation_body(exc: exceptions.ValidationError) -> dict:
    detail = exc.detail
    if isinstance(detail, Mapping):
        fields = field_errors(detail)
        general = [text for key in NON_FIELD_KEYS for text in fields.pop(key, [])]
        message = general[0] if general else exceptions.ValidationError.default_detail
        return error_body("invalid", message, fields=fields)
    texts = [force_str(item) for item in detail] if isinstance(detail, list) else [force_str(detail)]
    return error_body("invalid", texts[0] if texts else exceptions.ValidationError.default_detail)


def _code(exc: exceptions.APIException) -> str:
    for exception_class, code in CODES:
        if isinstance(exc, exception_class):
            return code
    return exc.default_code


def exception_handler(exc, context):
    # Django's own exceptions carry texts such as "No Widget matches the given query.": the
    # API says only what it says for every missing or refused object.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    # DRF's handler adds WWW-Authenticate and Retry-After and rolls back the transaction.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc)
    else:
        detail = exc.detail if not isinstance(exc.detail, list | dict) else exc.default_detail
        body = error_body(_code(exc), detail)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = int(exc.wait)
    response.data = body
    return response


@csrf_exempt  # it changes nothing; a POST without a CSRF token should hear 404 too, in JSON
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other address under /api/v1/: the error shape rather than the HTML 404 page."""
    return JsonResponse(error_body("not_found", exceptions.NotFound.default_detail), status=404)


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema."""

    error = serializers.CharField(help_text="A stable code: invalid, unauthorized, forbidden, not_found, …")
    message = serializers.CharField(help_text="For people, in the request's language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per request field (dotted for nested ones), what is wrong with it.",
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait; only when rate limited.")


def error_responses(*statuses: int) -> dict:
    """`responses` entries for extend_schema: these statuses answer the error shape."""
    return {status: ErrorSerializer for status in statuses}
