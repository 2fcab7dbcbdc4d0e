"""The error every layer raises for bad user input, so checks below the studio need not import it."""
from __future__ import annotations


class InvalidInput(ValueError):
    """Bad user input; str() is a message fit to show in the UI and the API."""
