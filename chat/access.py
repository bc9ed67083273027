"""Staff sockets end when their access does: a deactivated or deleted user, a changed
password, a removed role, a deleted API token. Each staff socket joins its user's access
group; these receivers tell the group after commit, and the sockets close with 4401 within
the time a realtime event takes (tests/chat/test_access.py).

Signals, which STYLE.md otherwise avoids, because these writes happen in code we do not own:
Django's user admin and password forms, `changepassword`, DRF's token admin. A service of
ours would miss every one of them. The receivers only publish, after commit."""

from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from rest_framework.authtoken.models import Token

from contactcenter.realtime import publish_on_commit

# A login only stamps last_login: no reason to look at the user's access.
LOGIN_STAMP = frozenset({"last_login"})


def access_group(user_id: int) -> str:
    return f"access.{user_id}"


def token_fingerprint(key: str) -> str:
    """Names a token in an event without putting the token itself on the wire or in logs."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def staff_sockets_close(*, user_id: int, token_key: str | None = None) -> None:
    """Close the user's staff sockets: all of them, or those signed in with this token."""
    event = {"type": "access_revoked", "token": token_fingerprint(token_key) if token_key else None}
    publish_on_commit(groups=[access_group(user_id)], event=event)


def _remember_access(sender, instance, update_fields=None, **kwargs) -> None:
    if instance.pk is None or (update_fields is not None and frozenset(update_fields) <= LOGIN_STAMP):
        instance._access_before = None
        return
    instance._access_before = sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()


def _user_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    before = getattr(instance, "_access_before", None)
    if created or before is None:
        return
    password, was_active = before
    if (was_active and not instance.is_active) or password != instance.password:
        staff_sockets_close(user_id=instance.pk)


def _user_deleted(sender, instance, **kwargs) -> None:
    staff_sockets_close(user_id=instance.pk)


def _token_deleted(sender, instance, **kwargs) -> None:
    staff_sockets_close(user_id=instance.user_id, token_key=instance.key)


def _roles_removed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in ("post_remove", "post_clear"):
        return
    if not reverse:  # user.groups.remove(...)
        staff_sockets_close(user_id=instance.pk)
    elif pk_set:  # group.user_set.remove(...)
        for user_id in pk_set:
            staff_sockets_close(user_id=user_id)


def _roles_clearing(sender, instance, action, reverse, **kwargs) -> None:
    # group.user_set.clear() names no users afterwards: close theirs before.
    if action == "pre_clear" and reverse:
        for user_id in instance.user_set.values_list("pk", flat=True):
            staff_sockets_close(user_id=user_id)


def connect_receivers() -> None:
    user_model = get_user_model()
    pre_save.connect(_remember_access, sender=user_model, dispatch_uid="access_remember")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="access_user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="access_user_deleted")
    post_delete.connect(_token_deleted, sender=Token, dispatch_uid="access_token_deleted")
    m2m_changed.connect(_roles_removed, sender=user_model.groups.through, dispatch_uid="access_roles_removed")
    m2m_changed.connect(_roles_clearing, sender=user_model.groups.through, dispatch_uid="access_roles_clearing")
