"""A recordings certificate or key that is set must be readable: the check says so at start."""

from voice.checks import recordings_keys


def test_a_missing_or_bad_certificate_is_an_error_and_a_good_pair_passes(settings, tmp_path):
    from voice import sealing

    settings.DEMO_MODE = False
    settings.CC_RECORDINGS_CERTIFICATE = str(tmp_path / "missing.crt")
    settings.CC_RECORDINGS_PRIVATE_KEY = ""
    assert [problem.id for problem in recordings_keys()] == ["voice.E001"]
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    settings.CC_RECORDINGS_CERTIFICATE = str(bad)
    assert [problem.id for problem in recordings_keys()] == ["voice.E002"]
    sealing.write_pair(tmp_path / "good.crt", tmp_path / "good.key")
    settings.CC_RECORDINGS_CERTIFICATE = str(tmp_path / "good.crt")
    settings.CC_RECORDINGS_PRIVATE_KEY = str(tmp_path / "good.key")
    assert recordings_keys() == []
