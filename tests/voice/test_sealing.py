"""Recordings sealed for a certificate: only the private key opens them, a flipped byte is
noticed, and the audio never reaches the disk unsealed."""

import io

import pytest

from voice.sealing import SealBroken, certificate_and_key, seal, unseal


@pytest.fixture(scope="module")
def recordings_pki():
    return certificate_and_key()


AUDIO = b"OggS" + bytes(range(256)) * 400  # stands in for a recording: binary, not text


def test_sealed_audio_opens_with_the_key_and_only_with_it(recordings_pki):
    certificate, key = recordings_pki
    envelope = seal(AUDIO, certificate)
    assert AUDIO[:4000] not in envelope
    assert b"OggS" not in envelope
    assert unseal(envelope, certificate, key) == AUDIO  # byte for byte: binary mode, no CRLF games
    other_certificate, other_key = certificate_and_key("Someone else")
    with pytest.raises(SealBroken):
        unseal(envelope, other_certificate, other_key)


def test_a_flipped_byte_anywhere_fails_to_unseal(recordings_pki):
    certificate, key = recordings_pki
    envelope = seal(AUDIO, certificate)
    # The recipient's wrapped key, the start, middle and end of the encrypted audio.
    for position in (20, 300, len(envelope) // 3, len(envelope) // 2, len(envelope) - 40, len(envelope) - 1):
        broken = bytearray(envelope)
        broken[position] ^= 0x01
        with pytest.raises(SealBroken):
            unseal(bytes(broken), certificate, key)


async def test_a_recording_is_sealed_from_memory_and_nothing_unsealed_is_stored(tmp_path, recordings_pki):
    """The recorder writes into memory; only the envelope goes to disk."""
    import asyncio

    from voice.media.legs import Leg, Recorder

    certificate, key = recordings_pki
    caller, agent = Leg("caller"), Leg("agent")  # unconnected legs: the recording is silence
    buffer = io.BytesIO()
    recorder = Recorder(buffer, left=caller, right=agent)
    recorder.start()
    await asyncio.sleep(0.3)
    await recorder.stop()
    await caller.close()
    await agent.close()
    audio = buffer.getvalue()
    assert audio.startswith(b"OggS")
    (tmp_path / "call.cms").write_bytes(seal(audio, certificate))

    stored = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert list(stored) == ["call.cms"]
    assert b"OggS" not in stored["call.cms"]
    assert unseal(stored["call.cms"], certificate, key) == audio
