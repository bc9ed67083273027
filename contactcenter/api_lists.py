"""Lists in the REST API: limit/offset pages, and filters and orderings on an allowlist.

A list view declares its filters as a serializer (`query` validates the query string with
it); a parameter it does not declare is refused with 400 rather than ignored, so a typo
never silently returns everything. Orderings are a `ChoiceField` named `ordering`.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import pagination, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# DRF's renderer choice (?format=json|api) is no filter, but harmless.
ALWAYS_ALLOWED = frozenset({"format"})


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(required=False, min_value=0)


def query(request, serializer_class: type[serializers.Serializer] | None, *, paged: bool = True) -> dict:
    """The validated query parameters of a list: those `serializer_class` declares, and
    limit/offset when `paged`. Anything else is a ValidationError naming the parameter."""
    filters = serializer_class(data=request.query_params) if serializer_class else None
    page = PageQuery(data=request.query_params) if paged else None
    allowed: set[str] = set()
    for serializer in (filters, page):
        if serializer is not None:
            allowed |= set(serializer.fields)
    refuse_unknown(request, allowed)
    values: dict = {}
    errors: dict = {}
    for serializer in (filters, page):
        if serializer is None:
            continue
        if serializer.is_valid():
            values.update(serializer.validated_data)
        else:
            errors.update(serializer.errors)
    if errors:
        raise ValidationError(errors)
    return values


def refuse_unknown(request, allowed: set[str]) -> None:
    """A ValidationError naming every query parameter not in `allowed`."""
    unknown = sorted(set(request.query_params) - allowed - ALWAYS_ALLOWED)
    if unknown:
        raise ValidationError({name: [_("This list cannot be filtered or ordered by this.")] for name in unknown})


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=` without a COUNT over the whole list: one row more than asked says
    whether there is a next page. Answers `{"results": [...], "next": url|null,
    "previous": url|null}`."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        return rows[: self.limit]

    def get_next_link(self):
        if not self.has_next:
            return None
        url = replace_query_param(self.request.build_absolute_uri(), self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        url = replace_query_param(self.request.build_absolute_uri(), self.limit_query_param, self.limit)
        if self.offset - self.limit <= 0:
            return remove_query_param(url, self.offset_query_param)
        return replace_query_param(url, self.offset_query_param, self.offset - self.limit)

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
            },
        }
