"""Errors a user can cause; the CLI prints their one-line message and exits non-zero.

Every error a library function raises because of its input (a file, an option, a config value)
is a ``SassidError``; anything else is a bug. ``exit_status`` is what the CLI exits with.
"""


class SassidError(Exception):
    """Base of errors caused by input (files, configs, options), not by bugs."""

    exit_status = 2


class ConfigError(SassidError, ValueError):
    """A configuration key or value is not valid."""


class TrainingError(SassidError):
    """Training cannot start or continue (no usable images, unwritable run dir, ...)."""


class OutputError(SassidError):
    """An output cannot be written where asked (or would overwrite an input); names the output."""


class OptionError(SassidError, ValueError):
    """An option value is out of range (tile sizes, noise levels, metric conventions, ...)."""


class NoImagesError(SassidError):
    """A command found nothing to work on: it fails (exit 1) instead of reporting 0 written."""

    exit_status = 1
