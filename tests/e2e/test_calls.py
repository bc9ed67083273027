"""A web call through real Chromium on both ends, with fake microphones playing tones: the
customer calls from the widget, waits, the agent answers in the workspace's softphone. FFTs in
each browser show that each side hears the other; the sealed recording holds the caller left
and the agent right, with the masked stretch silent."""

import io
import wave

import av
import numpy as np
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM
from tests.e2e.pages import log_in
from tests.processes import start_daphne, start_media_worker
from voice import sealing
from voice.models import CallEvent, Recording

pytestmark = pytest.mark.browser

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 700, 1300, 1900

# The peak frequency of what the call's <audio> element plays, by WebAudio, over `ms`, and the
# level (dB) at each of our three tones.
PEAK_HEARD = """async ([id, ms]) => {
  const stream = document.getElementById(id).srcObject;
  if (!stream) { return null; }
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 16384;
  context.createMediaStreamSource(stream).connect(analyser);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 1; i < bins.length; i++) { if (bins[i] > bins[best]) { best = i; } }
  const hz = best * context.sampleRate / analyser.fftSize;
  const at = (f) => {
    const i = Math.round(f * analyser.fftSize / context.sampleRate);
    return Math.max(bins[i - 2], bins[i - 1], bins[i], bins[i + 1], bins[i + 2]);
  };
  const levels = { 700: at(700), 1300: at(1300), 1900: at(1900), floor: at(3100) };
  await context.close();
  return { hz: hz, db: bins[best], levels: levels };
}"""


def tone_wav(path, frequency: float, seconds: float = 30.0, rate: int = 48_000) -> str:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return str(path)


@pytest.fixture
def phone_browser(tmp_path):
    """A Chromium whose microphone plays a tone of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browsers = []

        def launch(frequency: float):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-features=LocalNetworkAccessChecks",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={tone_wav(tmp_path / f'{frequency}.wav', frequency)}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            browser.close()


@pytest.fixture
def voice_system(transactional_db, tmp_path):
    certificate, key = tmp_path / "recordings.crt", tmp_path / "recordings.key"
    sealing.write_pair(certificate, key)
    env = {
        "CC_CALL_VOICE_PROCESSING": "false",  # pure tones: noise suppression would take them for noise
        "CC_RECORDINGS_CERTIFICATE": str(certificate),
        "CC_RECORDINGS_PRIVATE_KEY": str(key),
        "CC_RECORDINGS_DIR": str(tmp_path / "recordings"),
    }
    call_command("load_demo")
    server = start_daphne(tmp_path, **env)
    media = start_media_worker(tmp_path, **env)
    yield server, certificate, key, tmp_path / "recordings"
    media.stop()
    server.stop()


def audible(result: dict, frequency: int) -> bool:
    """The tone stands well above the spectrum where no tone is (at 3.1 kHz), and is loud
    enough to hear at all: our tones arrive at about -40 dB, codec leakage below -100 dB."""
    level = result["levels"][str(frequency)]
    return level > result["levels"]["floor"] + 20 and level > -80


def heard_peak(page, element_id: str) -> dict:
    result = page.evaluate(PEAK_HEARD, [element_id, 1500])
    assert result is not None, f"#{element_id} has no stream"
    return result


def channels_of(envelope: bytes, certificate, key) -> np.ndarray:
    audio = sealing.unseal(envelope, sealing.load_certificate(certificate), sealing.load_private_key(key))
    frames = []
    with av.open(io.BytesIO(audio)) as container:
        for frame in container.decode(audio=0):
            data = frame.to_ndarray()
            frames.append(data.reshape(-1, 2) if frame.format.is_packed else data.T)
    samples = np.concatenate(frames).astype(np.float64)
    return samples * 32767 if np.issubdtype(frames[0].dtype, np.floating) else samples  # as 16-bit


def peak_hz(samples: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(samples)


def test_a_customer_calls_from_the_widget_and_the_agent_answers_in_the_softphone(voice_system, phone_browser):
    server, certificate, key, recordings_dir = voice_system
    agent_browser, customer_browser = phone_browser(AGENT_HZ), phone_browser(CALLER_HZ)
    agent = log_in(agent_browser.new_context(locale="en-US"), server.url, "agent1")
    agent.locator("#presence").select_option("ready")

    customer = customer_browser.new_context(locale="en-US").new_page()
    customer.set_default_timeout(15_000)
    customer.goto(server.url + "/widget/demo/?locale=en")
    customer.get_by_role("button", name="Call us").click()
    # The demo menu: "This call is recorded", a greeting, the choices; 1 is the queue.
    expect(customer.locator("#call-state")).to_contain_text("Listen to the menu")
    expect(customer.locator("#call-recorded")).to_be_visible()
    customer.wait_for_timeout(2500)
    assert heard_peak(customer, "call-audio")["db"] > -80  # the prompts are heard
    customer.locator("#keypad").get_by_role("button", name="1").click()
    expect(customer.locator("#call-state")).to_contain_text("You are in the queue")
    # Hold music while waiting: something plays, and it is not the agent's tone.
    assert heard_peak(customer, "call-audio")["db"] > -80

    expect(agent.locator("#softphone")).to_be_visible()
    expect(agent.locator("#softphone-state")).to_have_text("Incoming call")
    agent.get_by_role("button", name="Answer").click()
    expect(agent.locator("#softphone-state")).to_have_text("On the call")
    expect(customer.locator("#call-state")).to_contain_text("Connected with")

    customer.wait_for_timeout(1000)  # the codec and jitter buffers settle
    customer_hears, agent_hears = heard_peak(customer, "call-audio"), heard_peak(agent, "softphone-audio")
    assert abs(customer_hears["hz"] - AGENT_HZ) < 20, customer_hears
    assert abs(agent_hears["hz"] - CALLER_HZ) < 20, agent_hears

    # Muted, the agent's tone stops reaching the customer; unmuted, it is back.
    agent.get_by_role("button", name="Mute").click()
    agent.wait_for_timeout(800)
    assert not audible(heard_peak(customer, "call-audio"), AGENT_HZ)
    agent.get_by_role("button", name="Unmute").click()
    agent.wait_for_timeout(800)
    assert audible(heard_peak(customer, "call-audio"), AGENT_HZ)

    # A supervisor listens: hears both; whispers: the agent hears it, the caller never does.
    supervisor_context = phone_browser(SUPERVISOR_HZ).new_context(locale="en-US")
    supervisor = log_in(supervisor_context, server.url, "supervisor", "/supervision/")
    supervisor.get_by_role("button", name="Listen").click()
    expect(supervisor.get_by_role("button", name="Stop listening")).to_be_visible()
    expect(agent.locator("#softphone-monitored")).to_contain_text("is listening to this call")
    supervisor.wait_for_timeout(1500)
    supervisor_hears = heard_peak(supervisor, "monitor-audio")
    assert audible(supervisor_hears, CALLER_HZ), supervisor_hears
    assert audible(supervisor_hears, AGENT_HZ), supervisor_hears
    supervisor.get_by_role("button", name="Whisper to the agent").click()
    expect(agent.locator("#softphone-monitored")).to_contain_text("is whispering to you")
    agent.wait_for_timeout(1500)
    agent_hears, customer_hears = heard_peak(agent, "softphone-audio"), heard_peak(customer, "call-audio")
    assert audible(agent_hears, SUPERVISOR_HZ), agent_hears
    assert audible(agent_hears, CALLER_HZ), agent_hears
    assert not audible(customer_hears, SUPERVISOR_HZ), customer_hears
    supervisor.get_by_role("button", name="Stop listening").click()
    expect(agent.locator("#softphone-monitored")).to_be_hidden()

    # A sensitive stretch: masked in the recording, still heard on the call.
    agent.get_by_role("button", name="Mask").click()
    expect(agent.locator("#softphone-recording")).to_have_text("Recording masked")
    agent.wait_for_timeout(2000)
    agent.get_by_role("button", name="End masking").click()
    expect(agent.locator("#softphone-recording")).to_have_text("Recording")
    agent.wait_for_timeout(1500)

    customer.get_by_role("button", name="Hang up").click()
    expect(customer.locator("#call-state")).to_have_text("The call has ended.")
    expect(agent.locator("#softphone-state")).to_have_text("Call ended")

    deadline_checks = 0
    while not Recording.objects.exists() and deadline_checks < 100:
        agent.wait_for_timeout(100)
        deadline_checks += 1
    recording = Recording.objects.get()
    assert CallEvent.objects.get(call=recording.call, kind="menu_done").data["keys"] == "1"
    envelope = (recordings_dir / recording.file_name).read_bytes()
    channels = channels_of(envelope, certificate, key)
    second = 48_000
    assert abs(peak_hz(channels[second : 2 * second, 0]) - CALLER_HZ) < 20
    assert abs(peak_hz(channels[second : 2 * second, 1]) - AGENT_HZ) < 20
    # The masked stretch: at least 1.5 s where both channels are silent, between tones.
    window = second // 10
    loud = [
        float(np.sqrt(np.mean(channels[i : i + window] ** 2))) > 200 for i in range(0, len(channels) - window, window)
    ]
    quiet_runs, run = [], 0
    for is_loud in loud:
        run = 0 if is_loud else run + 1
        quiet_runs.append(run)
    assert max(quiet_runs) >= 15, "no masked stretch of silence in the recording"
    last_quiet = quiet_runs.index(max(quiet_runs))
    assert any(loud[last_quiet + 1 :]), "the tones did not come back after the mask"

    # The supervisor finds it in the archive and Chromium plays it (unsealed by the server).
    supervisor.goto(server.url + "/voice/recordings/")
    supervisor.get_by_role("link", name="Open").first.click()
    expect(supervisor.locator("#history")).to_contain_text("Chose in the menu")
    seconds = supervisor.evaluate(
        """() => new Promise((resolve, reject) => {
             const player = document.getElementById("player");
             player.addEventListener("loadedmetadata", () => resolve(player.duration));
             player.addEventListener("error", () => reject(new Error("the player refused the recording")));
             player.preload = "auto"; player.load();
           })"""
    )
    assert seconds > len(channels) / second - 1.5, seconds
