"""gan_core.settings: the environment is read when first asked (not at import), in one place, with clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from gan_core import settings as settings_module
from gan_core.data import images
from gan_core.evaluation import metrics
from gan_core.settings import Settings, settings
from gan_core.storage import registry
from gan_core.studio.studio import Studio


def test_defaults_in_the_checkout():
    s = Settings.from_env({})
    assert s.checkpoint_dir == ROOT / "checkpoints" and s.data_root == ROOT.parent / "shared" / "data"
    assert s.cache_dir == Path.home() / ".cache" / "gan-studio" and s.fid_cache_dir == s.cache_dir / "fid"
    assert (s.fid_backend, s.output_mb, s.output_bytes, s.cache_seconds) == ("auto", 256, 256 * 2 ** 20, 3600)
    assert not s.hub_repos and not s.hub_revisions and s.hub_repo("anime", "x") == "x"


def test_outside_a_checkout_the_folders_are_in_the_working_directory(monkeypatch, tmp_path):
    """After `pip install .` gan_core sits in site-packages, where no checkpoints/ lies beside it."""
    monkeypatch.setattr(settings_module, "_SOURCE_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({})
    assert s.checkpoint_dir == tmp_path / "checkpoints" and s.data_root == tmp_path / "data"


def test_variables_override_and_relative_paths_are_taken_from_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"GAN_STUDIO_CHECKPOINTS": "models", "GAN_STUDIO_DATA": str(tmp_path / "d"),
                           "GAN_STUDIO_CACHE": "cache", "GAN_STUDIO_FID_BACKEND": "torch",
                           "GAN_STUDIO_OUTPUT_MB": "0.5", "GAN_STUDIO_CACHE_SECONDS": "5",
                           "GAN_STUDIO_HUB_REPO_MY_FACES": "you/faces", "GAN_STUDIO_HUB_REVISION_MY_FACES": "abc",
                           "GAN_STUDIO_CHECKPOINTS_OTHER": "ignored"})
    assert s.checkpoint_dir == tmp_path / "models" and s.data_root == tmp_path / "d"
    assert s.cache_dir == tmp_path / "cache" and s.fid_backend == "torch"
    assert (s.output_bytes, s.cache_seconds) == (2 ** 19, 5)
    assert (s.hub_repo("my_faces"), s.hub_revision("my-faces")) == ("you/faces", "abc")


@pytest.mark.parametrize("var, value", [("GAN_STUDIO_OUTPUT_MB", "lots"), ("GAN_STUDIO_CACHE_SECONDS", "-1"),
                                        ("GAN_STUDIO_OUTPUT_MB", "nan")])
def test_a_bad_number_names_its_variable(var, value):
    with pytest.raises(ValueError, match=f"^{var} must be"):
        Settings.from_env({var: value})


def test_read_once_until_the_cache_is_cleared(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path / "a"))
    first = settings()
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path / "b"))
    assert settings() is first and first.checkpoint_dir == tmp_path / "a"
    settings.cache_clear()
    assert settings().checkpoint_dir == tmp_path / "b"


def test_the_modules_ask_when_used_not_at_import(monkeypatch, tmp_path):
    """Variables set after gan_core was imported still count (conftest clears the cache before each test)."""
    (tmp_path / "ck" / "mine").mkdir(parents=True)
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("GAN_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_STUDIO_HUB_REPO_FROM_HUB", "you/from-hub")
    assert list(registry.entries()) == ["anime", "celeba", "mnist", "mine", "from_hub"]
    assert registry.entries()["from_hub"].hub_repo == "you/from-hub"
    assert images.resolve_source("mnist") == str(tmp_path / "data" / images.NAMED_SETS["mnist"])
    assert metrics.fid_cache_dir() == tmp_path / "cache" / "fid"
    assert Studio().checkpoint_dir == tmp_path / "ck"


def test_a_bad_fid_backend_fails_fid_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_FID_BACKEND", "tpu")
    assert settings().fid_backend == "tpu"  # the app still starts
    with pytest.raises(metrics.MetricsError, match="GAN_STUDIO_FID_BACKEND must be auto, torch or onnx, not 'tpu'"):
        metrics.backend()
