"""{placeholder} filling for texts admins and agents write: unknown names stay as written.

A plain {name} substitution, not str.format: format specs and attribute lookups in a text
someone typed must neither fail nor blow a message up."""

from __future__ import annotations

import re

from .models import MAX_MESSAGE_LENGTH

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, **values) -> str:
    def value(match: re.Match) -> str:
        found = values.get(match.group(1))
        return match.group(0) if found is None else str(found)

    return PLACEHOLDER.sub(value, template)[:MAX_MESSAGE_LENGTH]
