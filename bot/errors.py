"""Errors the command line turns into one line on stderr."""

from __future__ import annotations


class CommandError(Exception):
    """A command could not do what was asked; the message is shown as one line."""
