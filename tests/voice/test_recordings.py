"""The recordings archive: search within the queues one may see, playback and download with
the private key (each opening written to the call's history), and retention per queue."""

import datetime
import hashlib

import pytest
from django.utils import timezone

from contactcenter.celery import app as celery_app
from routing.models import AgentProfile
from tests.factories import QueueFactory, QueueMembershipFactory, UserFactory
from voice import services, tasks
from voice.models import Call, CallEvent, QueueVoice, Recording

pytestmark = pytest.mark.django_db

AUDIO = b"OggS" + bytes(range(256)) * 50


def recorded_call(queue, *, agent=None, caller="Liisa Laine", number="", when=None, audio=AUDIO):
    when = when or timezone.now()
    call = Call.objects.create(queue=queue, caller_name=caller, caller_number=number, agent=agent, state="ended")
    Call.objects.filter(pk=call.pk).update(started_at=when)
    call.refresh_from_db()
    return services.recording_seal_and_store(
        call_id=call.pk,
        agent_id=agent.pk if agent else None,
        audio=audio,
        started_at=when,
        ended_at=when + datetime.timedelta(seconds=95),
    )


@pytest.fixture
def listener(roles):
    """A supervisor: hears every queue's recordings."""
    user = UserFactory(username="sanna", roles=["Supervisor"])
    return user


def test_a_supervisor_searches_by_caller_agent_queue_and_date_and_sees_the_call_history(
    client, listener, queue, agent, recordings
):
    other_queue = QueueFactory(name="Rent arrears", always_open=True)
    this = recorded_call(queue, agent=agent, caller="Liisa Laine")
    recorded_call(other_queue, caller="Pekka", number="+358401234567", when=timezone.now() - datetime.timedelta(days=3))
    CallEvent.objects.create(call=this.call, kind="queued")
    client.force_login(listener)

    page = client.get("/voice/recordings/").content.decode()
    assert "Liisa Laine" in page
    assert "Pekka" in page
    assert "Liisa" not in client.get("/voice/recordings/", {"caller": "4012"}).content.decode()
    by_queue = client.get("/voice/recordings/", {"queue": queue.pk}).content.decode()
    assert "Liisa Laine" in by_queue
    assert "Pekka" not in by_queue
    assert "Pekka" not in client.get("/voice/recordings/", {"agent": agent.pk}).content.decode()
    today = timezone.localdate().isoformat()
    dated = client.get("/voice/recordings/", {"date_from": today, "date_to": today}).content.decode()
    assert "Liisa Laine" in dated
    assert "Pekka" not in dated
    assert client.get("/voice/recordings/", {"date_from": "not a date"}).status_code == 200  # shown as a form error

    detail = client.get(f"/voice/recordings/{this.pk}/").content.decode()
    assert "Waiting in the queue" in detail
    assert "Left channel: the caller." in detail
    assert f"/voice/recordings/{this.pk}/audio" in detail


def test_playback_and_download_unseal_with_the_key_and_are_written_to_the_history(client, listener, queue, recordings):
    recording = recorded_call(queue)
    client.force_login(listener)
    response = client.get(f"/voice/recordings/{recording.pk}/audio")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/ogg"
    assert response["Cache-Control"] == "no-store"
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(AUDIO).digest()
    download = client.get(f"/voice/recordings/{recording.pk}/audio", {"download": "1"})
    assert download["Content-Disposition"].startswith('attachment; filename="call-')
    opened = CallEvent.objects.filter(call=recording.call, kind="recording_opened")
    assert [event.data["by"] for event in opened] == ["sanna", "sanna"]

    # A changed byte on disk is refused, not played.
    data = bytearray(recording.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    recording.path.write_bytes(bytes(data))
    refused = client.get(f"/voice/recordings/{recording.pk}/audio")
    assert refused.status_code == 409
    assert "changed" in refused.content.decode()


def test_without_the_private_key_there_is_no_playback(client, listener, queue, recordings, settings):
    recording = recorded_call(queue)
    settings.CC_RECORDINGS_PRIVATE_KEY = ""
    client.force_login(listener)
    assert "no private key" in client.get(f"/voice/recordings/{recording.pk}/").content.decode()
    response = client.get(f"/voice/recordings/{recording.pk}/audio")
    assert response.status_code == 409
    assert not CallEvent.objects.filter(kind="recording_opened").exists()


def test_agents_cannot_listen_and_a_listener_hears_only_their_queues(client, queue, agent, recordings):
    other_queue = QueueFactory(name="Rent arrears", always_open=True)
    mine, theirs = recorded_call(queue), recorded_call(other_queue, caller="Pekka")

    client.force_login(agent.user)
    assert client.get("/voice/recordings/").status_code == 403
    assert client.get(f"/voice/recordings/{mine.pk}/audio").status_code == 403

    # A team lead: may listen, but is a member of `queue` only, not a supervisor.
    lead = QueueMembershipFactory(queue=queue, agent__user__username="tiina").agent.user
    from django.contrib.auth.models import Permission

    lead.user_permissions.add(Permission.objects.get(codename="listen_recording"))
    client.force_login(lead)
    page = client.get("/voice/recordings/").content.decode()
    assert "Liisa Laine" in page
    assert "Pekka" not in page
    assert client.get(f"/voice/recordings/{theirs.pk}/").status_code == 404
    assert client.get(f"/voice/recordings/{theirs.pk}/audio").status_code == 404
    assert client.get(f"/voice/recordings/{mine.pk}/audio").status_code == 200


def test_retention_per_queue_and_the_hourly_task_removes_rows_and_files(
    queue, recordings, django_capture_on_commit_callbacks
):
    long_queue = QueueFactory(name="Complaints", always_open=True)
    QueueVoice.objects.create(queue=long_queue, recording_retention_months=12)
    QueueVoice.objects.create(queue=queue, recording_retention_months=6)
    now = timezone.now()
    old = recorded_call(queue, when=now - datetime.timedelta(days=200))
    kept_long = recorded_call(long_queue, when=now - datetime.timedelta(days=200))
    fresh = recorded_call(queue)
    assert (kept_long.keep_until - kept_long.ended_at).days >= 365
    assert 180 <= (old.keep_until - old.ended_at).days <= 184
    default = recorded_call(QueueFactory(name="Default", always_open=True))
    assert 28 <= (default.keep_until - default.ended_at).days <= 31

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.remove_expired_recordings() == 1
    assert not Recording.objects.filter(pk=old.pk).exists()
    assert not old.path.exists()
    assert kept_long.path.exists()
    assert fresh.path.exists()
    assert CallEvent.objects.filter(call=old.call, kind="recording_removed").exists()
    entry = next(
        e for e in celery_app.conf.beat_schedule.values() if e["task"] == "voice.tasks.remove_expired_recordings"
    )
    assert entry["schedule"] <= 3600


def test_supervisors_hold_the_listen_permission_and_agents_do_not(roles):
    supervisor = UserFactory(username="s2", roles=["Supervisor"])
    agent_user = UserFactory(username="a2", roles=["Agent"])
    AgentProfile.objects.create(user=agent_user)
    assert supervisor.has_perm("voice.listen_recording")
    assert not agent_user.has_perm("voice.listen_recording")


@pytest.mark.parametrize("lookup_batch", [1000, 1])  # 1: the kept file and the orphan in lookups of their own
def test_sealed_files_left_without_a_row_are_swept_after_an_hour(queue, recordings, lookup_batch, monkeypatch):
    import os
    import time

    from django.conf import settings

    kept = recorded_call(queue)
    orphan = settings.CC_RECORDINGS_DIR / "2026" / "01" / "01" / "orphan.cms"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"sealed, but its row never committed")
    half = orphan.with_suffix(".part")
    half.write_bytes(b"half")
    young = orphan.with_name("young.cms")
    young.write_bytes(b"its row may be committing right now")
    monkeypatch.setattr(services, "ORPHAN_LOOKUP_BATCH", lookup_batch)
    hour_ago = time.time() - 3700
    for path in (orphan, half, kept.path):
        os.utime(path, (hour_ago, hour_ago))
    assert services.recordings_sweep_orphans() == 2
    assert not orphan.exists()
    assert not half.exists()
    assert young.exists()
    assert kept.path.exists()
