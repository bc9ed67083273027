"""The verbs of quality: remove transcripts past their queue's retention (S6), submit a review
(S7). Each is keyword-only and writes in its own transaction(s)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import selectors as chat_selectors
from chat.models import Conversation, Invitation, Message, Participant

from . import selectors
from .models import PurgedTranscript, Review, ReviewItem, ReviewScore

PURGE_BATCH_SIZE = 200
MAX_COMMENT_LENGTH = 4000
MAX_NOTE_LENGTH = 2000


class QualityError(Exception):
    """A review cannot be stored. `code` is for programs; the message and `fields` (item id →
    message) are for people."""

    def __init__(self, code: str, message: str, *, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


# --- retention (S6) ---------------------------------------------------------------------


def transcripts_purge(*, now: datetime.datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Remove the transcripts of ended conversations kept longer than their queue's retention
    (run by beat every hour). Returns how many conversations were purged.

    In batches, each its own short transaction. Conversations another transaction holds (a
    late note, another purge) are skipped and left for the next run, so two purges at once
    share the work and never purge a conversation twice."""
    now = now or timezone.now()
    purged = 0
    while True:
        done, locked = _purge_batch(now=now, batch_size=batch_size)
        purged += done
        if locked < batch_size:
            return purged


@transaction.atomic
def _purge_batch(*, now: datetime.datetime, batch_size: int) -> tuple[int, int]:
    """Purge up to `batch_size` due conversations; returns (purged, locked)."""
    rows = list(
        selectors.transcripts_due(now=now)
        .select_for_update(skip_locked=True, no_key=True, of=("self",))
        .order_by("ended_at", "pk")
        .values_list("pk", "queue__transcript_retention__transcript_days")[:batch_size]
    )
    # The query above may have read its snapshot just before another purge committed the
    # same rows; this statement's snapshot is fresh, and the rows are ours now.
    done = set(
        PurgedTranscript.objects.filter(conversation_id__in=[pk for pk, _ in rows]).values_list(
            "conversation_id", flat=True
        )
    )
    due = {pk: days for pk, days in rows if pk not in done}
    if not due:
        return 0, len(rows)
    messages = Message.objects.filter(conversation_id__in=list(due))
    counts = dict(
        messages.order_by().values("conversation_id").annotate(n=Count("pk")).values_list("conversation_id", "n")
    )
    messages.delete()
    # Free text about the customer goes with the transcript: notes to colleagues, wrap-up notes.
    Invitation.objects.filter(conversation_id__in=list(due)).update(note="")
    Conversation.objects.filter(pk__in=list(due)).update(
        prechat={}, context={}, search=None, search_config="", rating_comment="", wrap_up_note=""
    )
    PurgedTranscript.objects.bulk_create(
        PurgedTranscript(conversation_id=pk, purged_at=now, retention_days=days, messages_deleted=counts.get(pk, 0))
        for pk, days in due.items()
    )
    return len(due), len(rows)


# --- reviews (S7) -----------------------------------------------------------------------


def review_submit(
    *,
    conversation_id,
    reviewer,
    form_id,
    scores: Mapping,
    notes: Mapping | None = None,
    comment: str = "",
    agent_user_id: int | None = None,
) -> Review:
    """Score an ended conversation with a form: every item of the form, each 0..its maximum.
    The agent reviewed is the conversation's agent unless another agent who served it is
    named. A reviewer has one review per conversation and form; submitting again replaces it.
    Raises QualityError, storing nothing, when anything is wrong."""
    if not selectors.can_review(reviewer):
        raise QualityError("forbidden", _("You may not review conversations."))
    try:
        conversation = chat_selectors.conversation_for_agent(user=reviewer, conversation_id=conversation_id)
    except (Conversation.DoesNotExist, ValidationError, ValueError):
        raise QualityError("not_found", _("No such conversation.")) from None
    if conversation.state != Conversation.State.ENDED:
        raise QualityError("not_ended", _("Only ended conversations can be reviewed."))
    form_pk = _as_int(form_id)
    form = selectors.forms_for(conversation=conversation).filter(pk=form_pk).first() if form_pk else None
    if form is None:
        raise QualityError("wrong_form", _("This review form is not used for this conversation's queue."))
    agent_id = _reviewed_agent(conversation=conversation, agent_user_id=agent_user_id)
    if agent_id == reviewer.pk:
        raise QualityError("own_work", _("You cannot review your own conversation."))
    items = list(form.items.all())
    parsed, item_notes, errors = _validated_scores(items=items, scores=scores, notes=notes or {})
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise QualityError(
            "invalid", _("The comment is too long (at most %(n)s characters).") % {"n": MAX_COMMENT_LENGTH}
        )
    if errors:
        raise QualityError("invalid", _("Please check the scores."), fields=errors)

    total = sum(parsed.values())
    maximum = sum(item.max_score for item in items)
    percent = (Decimal(100 * total) / Decimal(maximum)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    passed = not any(item.critical and parsed[item.pk] < item.pass_score for item in items)
    now = timezone.now()
    figures = {
        "agent_id": agent_id,
        "comment": comment,
        "total_score": total,
        "max_score": maximum,
        "percent": percent,
        "passed": passed,
        "updated_at": now,
    }
    with transaction.atomic():
        review, created = Review.objects.select_for_update().get_or_create(
            conversation=conversation, form=form, reviewer=reviewer, defaults={**figures, "created_at": now}
        )
        if not created:
            for name, value in figures.items():
                setattr(review, name, value)
            review.save(update_fields=list(figures))
            review.scores.all().delete()
        ReviewScore.objects.bulk_create(
            ReviewScore(
                review=review,
                item=item,
                score=parsed[item.pk],
                max_score=item.max_score,
                failed=parsed[item.pk] < item.pass_score,
                critical=item.critical,
                note=item_notes.get(item.pk, ""),
            )
            for item in items
        )
    return review


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _reviewed_agent(*, conversation: Conversation, agent_user_id: int | None) -> int:
    if agent_user_id is None:
        if conversation.agent_id is None:
            raise QualityError("no_agent", _("No agent answered this conversation."))
        return conversation.agent_id
    served = Participant.objects.filter(
        conversation=conversation, agent_id=_as_int(agent_user_id), role=Participant.Role.AGENT
    ).exists()
    if not served:
        raise QualityError("wrong_agent", _("That agent did not serve this conversation."))
    return int(agent_user_id)


def _validated_scores(
    *, items: list[ReviewItem], scores: Mapping, notes: Mapping
) -> tuple[dict[int, int], dict[int, str], dict]:
    """Scores and notes by item id, and the errors by item id ("form" for the whole)."""
    by_id = {item.pk: item for item in items}
    given = {_as_int(key): value for key, value in scores.items()}
    written = {_as_int(key): str(value or "").strip() for key, value in notes.items()}
    errors: dict = {}
    if any(key not in by_id for key in given) or any(key not in by_id for key in written):
        errors["form"] = _("Some scores or notes are for items that are not on this form.")
    parsed: dict[int, int] = {}
    for item in items:
        raw = given.get(item.pk)
        score = None if raw is None or raw == "" else _as_int(raw)
        if raw is None or raw == "":
            errors[item.pk] = _("Score this item.")
        elif score is None or not 0 <= score <= item.max_score:
            errors[item.pk] = _("Give a score from 0 to %(max)s.") % {"max": item.max_score}
        else:
            parsed[item.pk] = score
        if len(written.get(item.pk, "")) > MAX_NOTE_LENGTH:
            errors.setdefault(item.pk, _("The note is too long (at most %(n)s characters).") % {"n": MAX_NOTE_LENGTH})
    return parsed, {key: text for key, text in written.items() if key in by_id and text}, errors
