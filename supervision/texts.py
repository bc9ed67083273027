"""Texts the supervisor's page script shows, translated on the server and handed to the page
as JSON (like chat/texts.py); texts the workspace has already are taken from there."""

from __future__ import annotations

from django.utils.translation import gettext as _

from chat.texts import workspace_texts

FROM_WORKSPACE = (
    "connecting",
    "connected",
    "disconnected",
    "ready",
    "not_ready",
    "away",
    "offline",
    "alarm_waiting",
    "alarm_oldest_wait",
    "anonymous",
    "customer",
    "internal",
    "joined",
    "left",
    "ended",
    "queued",
    "transferred",
    "typing",
    "customer_typing",
    "customer_offline",
    "error",
)


def supervision_texts() -> dict:
    workspace = workspace_texts()
    return {
        **{key: workspace[key] for key in FROM_WORKSPACE},
        "wrap_up": _("Wrap-up"),
        "reasons": {
            "missed offers": _("Missed offers"),
            "disconnected": _("Connection lost"),
        },
        "missed_count": _("%(n)s missed in a row"),
        "missed_summary": _("Set not ready after missed offers: %(names)s"),
        "no_alarms": _("No alarms."),
        "no_queues": _("No active queues."),
        "no_agents": _("No agents match."),
        "no_chats": _("None"),
        "held": _("%(held)s of %(capacity)s"),
        "offers": _("+%(n)s offered"),
        "queue_toggle": _("%(name)s logged on to %(queue)s"),
        "set_ready": _("Ready"),
        "set_ready_label": _("Set %(name)s ready"),
        "set_not_ready": _("Not ready"),
        "set_not_ready_label": _("Set %(name)s not ready"),
        "log_off_all": _("Log off all"),
        "log_off_all_label": _("Log %(name)s off all queues"),
        "listen": _("Listen"),
        "listen_label": _("Listen to the chat of %(customer)s with %(name)s"),
        "peek": _("Peek"),
        "peek_label": _("Read the chat of %(customer)s with %(name)s"),
        "listening": _("listening"),
        "listening_to": _("Listening to %(customer)s · %(queue)s"),
        "reading": _("Read only: %(customer)s · %(queue)s"),
        "stopped": _("You stopped listening."),
        "chat_ended": _("The chat has ended."),
        "sl_detail": _("%(within)s of %(counted)s answered within %(target)s s"),
    }
