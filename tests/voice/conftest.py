"""Fixtures of the call tests: a queue that takes calls, recordings sealed to a fresh key
pair, and the media process running in the test's own event loop."""

import asyncio

import pytest

from voice import sealing
from voice.media.worker import MediaWorker
from voice.models import QueueVoice


@pytest.fixture
def recordings(settings, tmp_path):
    certificate, key = tmp_path / "recordings.crt", tmp_path / "recordings.key"
    sealing.write_pair(certificate, key)
    settings.CC_RECORDINGS_CERTIFICATE = str(certificate)
    settings.CC_RECORDINGS_PRIVATE_KEY = str(key)
    settings.CC_RECORDINGS_DIR = tmp_path / "recordings"
    return certificate, key


@pytest.fixture
def voice_queue(queue):
    queue.channels = ["chat", "voice"]
    queue.save()
    QueueVoice.objects.create(queue=queue, record_calls=True)
    return queue


@pytest.fixture
async def media_process():
    worker = MediaWorker()
    task = asyncio.create_task(worker.serve())
    async with asyncio.timeout(10):
        await worker.ready.wait()
    yield worker
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
