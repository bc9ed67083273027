"""The console's prompts and menus (V5, V2): an upload is converted once to 48 kHz mono and
can be listened to; a file that is no audio is refused with a clear error and nothing stored;
a menu has 2 to 6 options."""

import wave

import pytest

from tests.factories import UserFactory
from tests.voice.test_ivr import tone_file
from voice.models import IvrMenu, IvrOption, Prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, roles):
    client.force_login(UserFactory(username="ada", roles=["Admin"], is_staff=True, is_superuser=True))
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_an_uploaded_prompt_is_converted_once_and_can_be_heard(admin_client):
    upload = tone_file(440, seconds=1.5)
    response = admin_client.post(
        "/admin/voice/prompt/add/",
        {"name": "Welcome", "purpose": "general", "language": "fi", "original": upload},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    prompt = Prompt.objects.get()
    with wave.open(prompt.audio.path) as converted:
        assert (converted.getframerate(), converted.getnchannels(), converted.getsampwidth()) == (48_000, 1, 2)
        assert converted.getnframes() == 72_000
    assert float(prompt.duration_seconds) == 1.5
    page = admin_client.get(f"/admin/voice/prompt/{prompt.pk}/change/").content.decode()
    assert f"/voice/prompts/{prompt.pk}/audio" in page
    heard = admin_client.get(f"/voice/prompts/{prompt.pk}/audio")
    assert heard["Content-Type"] == "audio/wav"
    assert heard.content[:4] == b"RIFF"


def test_a_file_that_is_not_audio_is_refused_and_nothing_is_stored(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bogus = SimpleUploadedFile("menu.wav", b"this is not audio at all" * 100, content_type="audio/wav")
    response = admin_client.post("/admin/voice/prompt/add/", {"name": "Menu", "purpose": "general", "original": bogus})
    assert response.status_code == 200
    assert "This is not an audio file we can read." in response.content.decode()
    assert not Prompt.objects.exists()


def test_a_number_prompt_says_which_number(admin_client):
    response = admin_client.post(
        "/admin/voice/prompt/add/", {"name": "Seven", "purpose": "number", "original": tone_file(300)}
    )
    assert response.status_code == 200
    assert "Which number this prompt says." in response.content.decode()


def test_a_menu_has_two_to_six_options(admin_client):
    prompt = Prompt.objects.create(name="Menu", original="x.wav", audio="x.wav", duration_seconds=1)

    def post(digits):
        data = {
            "name": f"Menu {len(digits)}", "menu_prompt": prompt.pk, "timeout_seconds": 6, "max_tries": 3,
            "no_choice": "hang_up", "options-TOTAL_FORMS": len(digits), "options-INITIAL_FORMS": 0,
            "options-MIN_NUM_FORMS": 2, "options-MAX_NUM_FORMS": 6,
        }  # fmt: skip
        for index, digit in enumerate(digits):
            data.update({f"options-{index}-digit": digit, f"options-{index}-label": f"key {digit}"})
            data.update({f"options-{index}-action": "repeat", f"options-{index}-collect_min": 1})
            data[f"options-{index}-collect_max"] = 12
        return admin_client.post("/admin/voice/ivrmenu/add/", data)

    assert "A menu has 2 to 6 options." in post("1").content.decode()
    assert post("1234567").status_code == 200
    assert not IvrMenu.objects.exists()
    response = post("12")
    assert response.status_code == 302, [form.errors for form in response.context["inline_admin_formsets"][0].formset]
    assert IvrOption.objects.count() == 2


def test_agents_cannot_hear_prompts_in_the_console(client, agent):
    prompt = Prompt.objects.create(name="Menu", original="x.wav", audio="x.wav", duration_seconds=1)
    client.force_login(agent.user)
    assert client.get(f"/voice/prompts/{prompt.pk}/audio").status_code == 403
