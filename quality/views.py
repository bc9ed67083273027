"""Server-rendered quality pages: conversations to review, one conversation with its review
form, and an agent's own reviews. Parse, call a selector or service, render."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat import selectors as chat_selectors
from chat.models import Conversation, Message
from routing.selectors import agent_queues

from . import selectors, services
from .models import ReviewForm

PAGE_SIZE = 50


class ConversationFilter(forms.Form):
    queue = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Queue"))
    agent = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Agent"))
    date_from = forms.DateField(
        required=False, label=gettext_lazy("Started from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=gettext_lazy("Started until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    unreviewed = forms.BooleanField(required=False, label=gettext_lazy("Not yet reviewed"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        queues = agent_queues(user=user).order_by("name")
        self.fields["queue"].queryset = queues
        self.fields["queue"].empty_label = _("All queues")
        self.fields["agent"].queryset = (
            get_user_model()
            .objects.filter(agent_profile__memberships__queue__in=queues.values("pk"))
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        self.fields["agent"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
        self.fields["agent"].empty_label = _("All agents")


def _require_reviewer(user) -> None:
    if not selectors.can_review(user):
        raise PermissionDenied


@login_required
def review_list(request):
    """Ended conversations the reviewer may see, filtered, with how often each was reviewed."""
    _require_reviewer(request.user)
    filters = ConversationFilter(request.GET or None, user=request.user)
    values = filters.cleaned_data if filters.is_valid() else {}
    conversations = selectors.conversations_to_review(
        user=request.user,
        queue_id=values["queue"].pk if values.get("queue") else None,
        agent_id=values["agent"].pk if values.get("agent") else None,
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
        unreviewed=bool(values.get("unreviewed")),
    )
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "quality/conversations.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
        status=400 if filters.is_bound and not filters.is_valid() else 200,
    )


@login_required
def review_conversation(request, conversation_id):
    """The transcript, read-only, beside the review form of the reviewer's choice."""
    _require_reviewer(request.user)
    try:
        conversation = selectors.conversation_for_reviewer(user=request.user, conversation_id=conversation_id)
    except Conversation.DoesNotExist:
        raise Http404 from None
    review_forms = list(selectors.forms_for(conversation=conversation).prefetch_related("items"))
    if request.method == "POST":
        chosen = _chosen_form(review_forms, request.POST.get("form"), fallback=False)
    else:
        chosen = _chosen_form(review_forms, request.GET.get("form"), fallback=True)
    errors: dict = {}
    form_error = ""
    posted = None
    if request.method == "POST" and chosen is not None:
        posted = request.POST
        items = list(chosen.items.all())
        try:
            services.review_submit(
                conversation_id=conversation.pk,
                reviewer=request.user,
                form_id=chosen.pk,
                scores={item.pk: request.POST.get(f"score-{item.pk}", "") for item in items},
                notes={item.pk: request.POST.get(f"note-{item.pk}", "") for item in items},
                comment=request.POST.get("comment", ""),
            )
        except services.QualityError as error:
            errors, form_error = error.fields, error.message
        else:
            messages.success(request, _("Review saved."))
            return redirect(f"{reverse('quality-review', args=[conversation.pk])}?form={chosen.pk}")
    elif request.method == "POST":
        form_error = _("This review form is not used for this conversation's queue.")

    reviews = list(selectors.reviews_of_conversation(conversation_id=conversation.pk))
    mine = next((r for r in reviews if chosen and r.form_id == chosen.pk and r.reviewer_id == request.user.pk), None)
    purged = selectors.purged_transcript(conversation_id=conversation.pk)
    return render(
        request,
        "quality/review.html",
        {
            "conversation": conversation,
            "transcript": [] if purged else _transcript(conversation),
            "purged": purged,
            "review_forms": review_forms,
            "chosen": chosen,
            "rows": _item_rows(chosen, mine=mine, posted=posted, errors=errors) if chosen else [],
            "comment": posted.get("comment", "") if posted is not None else (mine.comment if mine else ""),
            "mine": mine,
            "reviews": reviews,
            "form_error": form_error,
            "general_error": errors.get("form", ""),
        },
        status=400 if form_error else 200,
    )


@login_required
def my_reviews(request):
    """The reviews of the signed-in agent's own work: scores, comments, failed items."""
    reviews = selectors.reviews_of_agent(agent_user_id=request.user.pk)
    page = Paginator(reviews, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "quality/mine.html", {"page": page})


def _chosen_form(review_forms: list[ReviewForm], wanted, *, fallback: bool) -> ReviewForm | None:
    """The form asked for; else, when showing the page, the first that applies. A posted
    review never falls back: its scores belong to the form it names."""
    for form in review_forms:
        if str(form.pk) == str(wanted):
            return form
    return review_forms[0] if review_forms and fallback else None


def _item_rows(form: ReviewForm, *, mine, posted, errors: dict) -> list[dict]:
    """Each checklist item with the value to show: what was just posted, else the reviewer's
    stored score, else nothing."""
    stored = {score.item_id: score for score in mine.scores.all()} if mine else {}
    rows = []
    for item in form.items.all():
        if posted is not None:
            value, note = posted.get(f"score-{item.pk}", ""), posted.get(f"note-{item.pk}", "")
        elif item.pk in stored:
            value, note = str(stored[item.pk].score), stored[item.pk].note
        else:
            value, note = "", ""
        rows.append(
            {
                "item": item,
                "value": value,
                "note": note,
                "error": errors.get(item.pk, ""),
                "choices": [str(n) for n in range(item.max_score + 1)],
            }
        )
    return rows


ROLE_LABELS = dict(Message.Role.choices)
EVENT_TEXTS = {
    "queued": gettext_lazy("Queued in %(queue)s"),
    "agent_joined": gettext_lazy("%(name)s joined"),
    "agent_left": gettext_lazy("%(name)s left"),
}


def _event_text(frame: dict) -> str:
    kind, data = frame["event"], frame.get("data") or {}
    if kind == "transferred":
        if data.get("to"):
            return _("Transferred to %(name)s") % {"name": data["to"]}
        return _("Transferred to the queue %(queue)s") % {"queue": data.get("queue", "")}
    if kind == "ended":
        by = data.get("by", "")
        text = _("Ended by %(by)s") % {"by": dict(Conversation.EndedBy.choices).get(by, by)}
        reason = data.get("reason", "")
        return f"{text} ({reason})" if reason and reason != by else text
    text = EVENT_TEXTS.get(kind)
    if text is None:
        return kind
    return str(text) % {key: data.get(key, "") for key in ("queue", "name")}


def _transcript(conversation: Conversation) -> list[dict]:
    """The stored frames, agents' view (notes included), as lines for the template."""
    lines = []
    for frame in chat_selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=True):
        if frame["type"] == "message":
            lines.append(
                {
                    "kind": "message",
                    "role": frame["author"]["role"],
                    "name": frame["author"]["name"] or ROLE_LABELS.get(frame["author"]["role"], ""),
                    "text": frame["text"],
                    "link": frame.get("link", ""),
                    "internal": frame.get("internal", False),
                    "at": datetime.datetime.fromisoformat(frame["sent_at"]),
                }
            )
        else:
            lines.append(
                {"kind": "event", "text": _event_text(frame), "at": datetime.datetime.fromisoformat(frame["at"])}
            )
    return lines
