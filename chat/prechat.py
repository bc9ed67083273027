"""The pre-chat form: validate answers against the queue's fields; a choice may pick the queue."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from routing.models import Queue

from .models import PrechatField

MAX_ANSWER_LENGTH = 500
PHONE = re.compile(r"^\+?[0-9 ()\-]{5,25}$")


def fields_for(queue: Queue) -> list[PrechatField]:
    return list(queue.prechat_fields.prefetch_related("choices").all())


def describe(queue: Queue) -> list[dict]:
    described = []
    for field in fields_for(queue):
        entry = {"name": field.name, "label": field.label, "type": field.type, "required": field.required}
        if field.type == PrechatField.Type.CHOICE:
            entry["choices"] = [{"value": c.value, "label": c.label} for c in field.choices.all()]
        described.append(entry)
    return described


def validate_prechat(*, queue: Queue, answers) -> tuple[dict, dict, Queue | None]:
    """Returns (clean answers, errors by field name, queue chosen by an answer or None)."""
    if not isinstance(answers, dict):
        return {}, {"__all__": _("The form must be an object of answers.")}, None
    fields = fields_for(queue)
    known = {field.name for field in fields}
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    routed: Queue | None = None
    for name in answers:
        if name not in known:
            errors[str(name)[:40]] = _("Unknown field.")
    for field in fields:
        raw = answers.get(field.name)
        value = "" if raw is None else str(raw).strip() if isinstance(raw, str | int | float) else None
        if value is None:
            errors[field.name] = _("Give a text value.")
            continue
        if not value:
            if field.required:
                errors[field.name] = _("This field is required.")
            continue
        if len(value) > MAX_ANSWER_LENGTH:
            errors[field.name] = _("At most %(max)s characters.") % {"max": MAX_ANSWER_LENGTH}
            continue
        if field.type == PrechatField.Type.EMAIL:
            try:
                validate_email(value)
            except ValidationError:
                errors[field.name] = _("Enter a valid e-mail address.")
                continue
        elif field.type == PrechatField.Type.PHONE and not PHONE.match(value):
            errors[field.name] = _("Enter a valid phone number.")
            continue
        elif field.type == PrechatField.Type.NUMBER:
            try:
                Decimal(value)
            except InvalidOperation:
                errors[field.name] = _("Enter a number.")
                continue
        elif field.type == PrechatField.Type.CHOICE:
            choice = next((c for c in field.choices.all() if c.value == value), None)
            if choice is None:
                errors[field.name] = _("Choose one of the options.")
                continue
            if choice.route_to_id and routed is None:
                routed = choice.route_to
        clean[field.name] = value
    return clean, errors, routed
