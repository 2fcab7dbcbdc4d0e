"""Shared fixtures: tiny models and one CPU thread, so the suite stays fast on a loaded 2-core machine."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.models import build_generator, default_config
from gan_core.settings import settings

# The repository; pyproject.toml's [tool.pytest.ini_options] pythonpath puts it and benchmarks/ on sys.path
ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)

pytest_plugins = ["pytester"]  # tests/test_skip_guard.py runs pytest on small test files
# The only reasons a test may skip in CI (prefixes of the skip reason); any other skip fails the run (SkipGuard).
ALLOWED_SKIPS = (
    "optional onnx backend",  # tests/test_metrics.py: FID's onnxruntime backend is an optional extra
    "needs Debian chromium",  # tests/test_browser.py: scripts/test.sh installs it only where apt-get can
)

TINY_STYLE = dict(resolution=16, channel_base=64, channel_max=32, z_dim=16, w_dim=16, mapping_layers=2)
TINY_DCGAN = dict(resolution=16, channel_base=64, channel_max=32, z_dim=16)
TINY_TRAIN = ["--res", "16", "--channel-base", "64", "--channel-max", "32", "--z-dim", "16", "--batch", "8",
              "--device", "cpu", "--threads", "1", "--seed", "0"]  # train.py arguments for a tiny, deterministic run


def tiny_config(arch: str = "style", **overrides):
    base = {"style": TINY_STYLE, "dcgan": TINY_DCGAN, "mlp": dict(z_dim=16)}[arch]
    return default_config(arch, **{**base, **overrides})


def make_generator(arch: str = "style", seed: int = 0, **overrides):
    """A tiny generator with deterministic random weights and a non-zero w_avg (style)."""
    torch.manual_seed(seed)
    G = build_generator(tiny_config(arch, **overrides)).eval().requires_grad_(False)
    if arch == "style":
        G.mapping.w_avg.copy_(torch.randn(G.w_dim) * 0.5)
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):  # non-zero so const noise actually shows up
                p.fill_(0.1)
    return G


@pytest.fixture(autouse=True)
def fresh_settings():
    """gan_core.settings reads the environment once per process: read it again in each test (monkeypatch.setenv)."""
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """64 random 16x16 RGB PNGs: tiny training data."""
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(64):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


class Payload:
    """Unpickling this calls open(marker, 'w'): it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="session")
def served_checkpoints(tmp_path_factory) -> Path:
    """What the test server serves: a copy of the shipped models plus broken folders (appserver.BROKEN)."""
    from appserver import write_checkpoints

    return write_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(scope="session")
def app_url(served_checkpoints, tmp_path_factory):
    """One real app server for the whole session, started on first use."""
    from appserver import serve

    with serve(served_checkpoints, tmp_path_factory.mktemp("server") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def tiny_named_directions(folder: Path) -> None:
    """Two named directions ('Bright' on the coarse w layers, 'Dark' on all) beside a tiny style checkpoint."""
    from gan_core.latent.named import NamedDirection, NamedDirections, save

    v = torch.randn(2, TINY_STYLE["w_dim"], generator=torch.Generator().manual_seed(3))
    v = v / v.norm(dim=1, keepdim=True)
    save(NamedDirections((NamedDirection("Bright", "Bright", v[0], (0, 1), 0.4),
                          NamedDirection("Dark", "Dark", v[1], tuple(range(6)), 0.2)), "test"), folder)


def save_tiny_checkpoints(root: Path, num_classes: int = 10) -> Path:
    """A checkpoint dir with tiny models: 'tiny' (style), 'digits' (class-conditional style), 'dc' (DCGAN)."""
    from gan_core.storage.checkpoint import save_generator

    save_generator(make_generator("style"), root / "tiny", meta={})
    tiny_named_directions(root / "tiny")
    save_generator(make_generator("style", num_classes=num_classes), root / "digits", meta={})
    save_generator(make_generator("dcgan"), root / "dc", meta={})
    return root


class SkipGuard:
    """Fails a run that skipped a test for a reason not in ALLOWED_SKIPS, or that collected no tests (pytest's exit
    code 5 becomes 1): CI never passes because a whole area quietly skipped."""

    def __init__(self) -> None:
        self.refused: list[str] = []  # "test: reason" of each skip not allowed
        self.empty = False  # no tests collected

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.check(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.check(report)  # a whole module skipped, e.g. by a module-level importorskip

    def check(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):  # an xfail is reported as skipped too
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if not reason.startswith(ALLOWED_SKIPS):
                self.refused.append(f"{report.nodeid}: {reason}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Runs before the terminal summary, which reports why."""
        self.empty = session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
        if self.empty or (self.refused and session.exitstatus == pytest.ExitCode.OK):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.refused:
            terminalreporter.section("skips not allowed in CI (tests/conftest.py ALLOWED_SKIPS)", red=True)
            for line in self.refused:
                terminalreporter.line(line)
        if self.empty:
            terminalreporter.section("no tests collected: the run fails", red=True)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipGuard(), "skip-guard")


FAST_TIER = "not slow"  # pyproject.toml's addopts: plain `pytest` leaves out tests marked slow


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A run that names only slow tests (`pytest tests/test_soak.py`) runs them, where the fast tier would
    deselect them all and collect nothing; the full run is `pytest -m "slow or not slow"`."""
    if config.option.markexpr == FAST_TIER and items and all(item.get_closest_marker("slow") for item in items):
        config.option.markexpr = ""
