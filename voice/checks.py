"""Start-up checks of voice's settings: a recordings certificate or key that is set must be
readable, or calls would fail to be recorded (or played) only when it is too late."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register()
def recordings_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from . import sealing

    problems = []
    certificate, key = settings.CC_RECORDINGS_CERTIFICATE, settings.CC_RECORDINGS_PRIVATE_KEY
    demo_pair_pending = settings.DEMO_MODE  # the media process makes the demo pair on first start
    for name, path, loader in (
        ("CC_RECORDINGS_CERTIFICATE", certificate, sealing.load_certificate),
        ("CC_RECORDINGS_PRIVATE_KEY", key, sealing.load_private_key),
    ):
        if not path:
            continue
        try:
            loader(path)
        except FileNotFoundError:
            if not demo_pair_pending:
                problems.append(checks.Error(f"{name}={path} does not exist.", id="voice.E001"))
        except (ValueError, TypeError) as error:
            problems.append(
                checks.Error(f"{name}={path} is not a PEM {name.rsplit('_', 1)[-1].lower()}: {error}", id="voice.E002")
            )
    return problems
