"""Reads of quality: who may review, what to review, the forms that apply, and the figures the
agent reports show (`agent_quality`, `errors_history`)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat import selectors as chat_selectors
from chat.models import Conversation
from routing.selectors import is_supervisor

from .models import PurgedTranscript, Review, ReviewForm, ReviewItem, ReviewScore

REVIEW_PERMISSION = "quality.review_conversations"


def can_review(user) -> bool:
    """Supervisors, and anyone given the permission to review conversations."""
    return bool(user.is_authenticated and user.is_active and (is_supervisor(user) or user.has_perm(REVIEW_PERMISSION)))


# --- retention --------------------------------------------------------------------------


def transcripts_due(*, now: datetime.datetime) -> QuerySet[Conversation]:
    """Ended conversations whose queue keeps transcripts for a number of days that has passed
    since the chat ended, and whose transcript is still there."""
    days = F("queue__transcript_retention__transcript_days")
    limit = ExpressionWrapper(Value(now) - days * Value(datetime.timedelta(days=1)), output_field=DateTimeField())
    return Conversation.objects.filter(
        state=Conversation.State.ENDED,
        ended_at__isnull=False,
        queue__transcript_retention__transcript_days__isnull=False,
        ended_at__lt=limit,
    ).exclude(Exists(PurgedTranscript.objects.filter(conversation_id=OuterRef("pk"))))


def transcripts_due_by_queue(*, now: datetime.datetime) -> list[dict]:
    """What a purge would remove now, per queue: name, days, conversations, messages."""
    rows = (
        transcripts_due(now=now)
        .order_by()
        .values("queue__name", "queue__transcript_retention__transcript_days")
        .annotate(conversations=Count("pk", distinct=True), messages=Count("messages"))
        .order_by("queue__name")
    )
    return [
        {
            "queue": row["queue__name"],
            "days": row["queue__transcript_retention__transcript_days"],
            "conversations": row["conversations"],
            "messages": row["messages"],
        }
        for row in rows
    ]


# --- what to review ---------------------------------------------------------------------


def _start_of_day(day: datetime.date) -> datetime.datetime:
    """Midnight of `day` in the current time zone (the user's, set by the middleware)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


def conversations_to_review(
    *,
    user,
    queue_id: int | None = None,
    agent_id: int | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    unreviewed: bool = False,
) -> QuerySet[Conversation]:
    """Ended, answered conversations the user may see, newest first, with `review_count`,
    `reviewed_by_me` and `purged`. `agent_id` is the answering agent's user id; the dates
    are days in the current time zone, both inclusive, on the start time; `unreviewed`
    keeps those nobody has reviewed yet."""
    reviews = Review.objects.filter(conversation_id=OuterRef("pk"))
    review_count = reviews.order_by().values("conversation_id").annotate(n=Count("pk")).values("n")
    conversations = (
        chat_selectors.conversations_for_agent(user=user)
        .filter(state=Conversation.State.ENDED, agent__isnull=False)
        .select_related("agent")
        .defer("search")
        .annotate(
            review_count=Coalesce(Subquery(review_count, output_field=IntegerField()), 0),
            reviewed_by_me=Exists(reviews.filter(reviewer=user)),
            purged=Exists(PurgedTranscript.objects.filter(conversation_id=OuterRef("pk"))),
        )
        .order_by("-created_at", "-pk")
    )
    if queue_id is not None:
        conversations = conversations.filter(queue_id=queue_id)
    if agent_id is not None:
        conversations = conversations.filter(agent_id=agent_id)
    if date_from is not None:
        conversations = conversations.filter(created_at__gte=_start_of_day(date_from))
    if date_to is not None and date_to < datetime.date.max:
        conversations = conversations.filter(created_at__lt=_start_of_day(date_to + datetime.timedelta(days=1)))
    if unreviewed:
        conversations = conversations.exclude(Exists(reviews))
    return conversations


def conversation_for_reviewer(*, user, conversation_id) -> Conversation:
    """Fetch and authorise together: an ended conversation the reviewer may see. Raises
    Conversation.DoesNotExist otherwise (also for a user who may not review)."""
    if not can_review(user):
        raise Conversation.DoesNotExist
    conversation = chat_selectors.conversation_for_agent(user=user, conversation_id=conversation_id)
    if conversation.state != Conversation.State.ENDED:
        raise Conversation.DoesNotExist
    return conversation


def forms_for(*, conversation: Conversation) -> QuerySet[ReviewForm]:
    """Active forms with at least one item that apply to the conversation's queue: the
    queue's own first, then those for every queue."""
    return (
        ReviewForm.objects.filter(Q(queue__isnull=True) | Q(queue_id=conversation.queue_id), is_active=True)
        .filter(Exists(ReviewItem.objects.filter(form_id=OuterRef("pk"))))
        .order_by(F("queue_id").asc(nulls_last=True), "name", "pk")
    )


def purged_transcript(*, conversation_id) -> PurgedTranscript | None:
    return PurgedTranscript.objects.filter(conversation_id=conversation_id).first()


def _with_scores(reviews: QuerySet[Review]) -> QuerySet[Review]:
    return reviews.select_related("form", "reviewer", "agent", "conversation__queue").prefetch_related(
        Prefetch("scores", queryset=ReviewScore.objects.select_related("item").order_by("item__order", "item_id"))
    )


def reviews_of_conversation(*, conversation_id) -> QuerySet[Review]:
    return _with_scores(Review.objects.filter(conversation_id=conversation_id).order_by("-created_at", "-pk"))


def reviews_of_agent(*, agent_user_id: int) -> QuerySet[Review]:
    """The reviews of one agent's work, newest first, with their scores."""
    return _with_scores(Review.objects.filter(agent_id=agent_user_id).order_by("-created_at", "-pk"))


# --- figures for the reports ------------------------------------------------------------


def agent_quality(
    *,
    agent_user_ids: Iterable[int] | None = None,
    start: datetime.datetime,
    end: datetime.datetime,
) -> dict[int, dict]:
    """Per agent (user id), the reviews made in [start, end): how many, their mean percentage
    (None without reviews) and how many failed on a critical item. Agents asked for by id
    are always in the answer, with zeros when nobody reviewed them; without ids, every agent
    reviewed in the period is."""
    reviews = Review.objects.filter(created_at__gte=start, created_at__lt=end, agent__isnull=False)
    wanted = None
    if agent_user_ids is not None:
        wanted = list(agent_user_ids)
        reviews = reviews.filter(agent_id__in=wanted)
    rows = (
        reviews.order_by()
        .values("agent_id")
        .annotate(n=Count("pk"), mean=Avg("percent"), critical=Count("pk", filter=Q(passed=False)))
    )
    figures = {agent_id: {"reviews": 0, "mean_percent": None, "critical_failures": 0} for agent_id in wanted or []}
    for row in rows:
        figures[row["agent_id"]] = {
            "reviews": row["n"],
            "mean_percent": round(float(row["mean"]), 1) if row["mean"] is not None else None,
            "critical_failures": row["critical"],
        }
    return figures


def errors_history(
    *,
    agent_user_id: int | None = None,
    start: datetime.datetime,
    end: datetime.datetime,
) -> list[dict]:
    """The checklist items failed in reviews made in [start, end), of one agent or of all,
    most often failed first: [{"item_id", "form", "text", "critical", "count", "last_at"}].
    `critical` is whether the item was critical when scored."""
    scores = ReviewScore.objects.filter(failed=True, review__created_at__gte=start, review__created_at__lt=end)
    if agent_user_id is not None:
        scores = scores.filter(review__agent_id=agent_user_id)
    rows = (
        scores.order_by()
        .values("item_id", "item__text", "item__form__name", "critical")
        .annotate(count=Count("pk"), last_at=Max("review__created_at"))
        .order_by("-count", "item__form__name", "item__text", "item_id", "-critical")
    )
    return [
        {
            "item_id": row["item_id"],
            "form": row["item__form__name"],
            "text": row["item__text"],
            "critical": row["critical"],
            "count": row["count"],
            "last_at": row["last_at"],
        }
        for row in rows
    ]
