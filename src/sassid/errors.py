"""Errors a user can cause; the CLI prints their one-line message and exits non-zero."""


class SassidError(Exception):
    """Base of errors caused by input (files, configs, options), not by bugs."""


class ConfigError(SassidError, ValueError):
    """A configuration key or value is not valid."""


class TrainingError(SassidError):
    """Training cannot start or continue (no usable images, unwritable run dir, ...)."""
