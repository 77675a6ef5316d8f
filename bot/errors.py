"""Errors the command line turns into one line on stderr."""

from __future__ import annotations


class CommandError(Exception):
    """The command was asked for something it cannot do as asked (a usage error): exit 2;
    the message is shown as one line."""


class RuntimeFailure(Exception):
    """The command ran and failed (every feed failed, no such chat): exit 1; the message
    is shown as one line."""
