"""conftest.SkipGuard: a run with a skip outside ALLOWED_SKIPS, or with no tests, fails; allowed skips pass."""
from __future__ import annotations

import pytest
from conftest import ALLOWED_SKIPS, SkipGuard

PASSING = "def test_passes():\n    pass\n"
ALLOWED = "".join(f"@pytest.mark.skipif(True, reason={reason + ': details'!r})\ndef test_allowed_{i}():\n    pass\n"
                  for i, reason in enumerate(ALLOWED_SKIPS))  # one test skipped for each allowed reason


@pytest.fixture
def run(pytester, monkeypatch):
    """pytest on one test file, with the guard and no other plugins."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def run_file(source: str) -> pytest.RunResult:
        pytester.makepyfile(f"import pytest\n\n{source}")
        return pytester.runpytest("-p", "no:cacheprovider", plugins=[SkipGuard()])

    return run_file


@pytest.mark.parametrize("source", [
    'def test_skipped():\n    pytest.skip("no data here")\n',
    '@pytest.mark.skipif(True, reason="no data here")\ndef test_skipped():\n    pass\n',
    'pytest.skip("no data here", allow_module_level=True)\n',
    'pytest.importorskip("no_such_module", reason="no data here")\n',
], ids=["in-test", "skipif", "module", "importorskip"])
def test_a_skip_not_allowed_fails_the_run_and_names_it(run, source):
    result = run(PASSING + source)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skips not allowed in CI*", "*test_a_skip_not_allowed*: no data here"])


@pytest.mark.parametrize("source", [
    PASSING + ALLOWED,
    ALLOWED,
    '@pytest.mark.xfail(reason="known bug", strict=True)\ndef test_xfail():\n    assert False\n',
], ids=["allowed-skip", "only-allowed-skips", "xfail"])
def test_allowed_skips_and_xfails_pass(run, source):
    result = run(source)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "skips not allowed" not in result.stdout.str()


def test_a_run_without_tests_fails_not_exit_code_5(run):
    result = run("")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no tests collected: the run fails*"])
