"""Errors that the CLI turns into one readable line and an exit code.

``UsageError`` (exit 2) is for what the user typed or wrote in a run file;
``LazyError`` (exit 1) is for failures at run time (missing files, corrupted
artifacts, hash mismatches).
"""

from __future__ import annotations


class LazyError(Exception):
    """A runtime failure with a message meant for the user (exit code 1)."""

    exit_code = 1


class UsageError(LazyError):
    """Bad options or run-file values (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A run file that does not validate; one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))
