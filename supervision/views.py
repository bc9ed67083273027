"""The supervisor's page (S1, S2): the tables fill and update over `/ws/supervisor/`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from routing.selectors import is_supervisor

from .texts import supervision_texts


@login_required
def supervision(request):
    if not is_supervisor(request.user):
        raise PermissionDenied
    return render(request, "supervision/supervision.html", {"texts": supervision_texts()})
