"""Errors and warnings shared by every stage.

Library code raises these with an expected-vs-actual message; the CLI turns
them into one clean line on stderr and a non-zero exit.
"""


class ConvoyCountError(ValueError):
    """Anything the user can fix: bad input file, bad option, missing model."""


class InputError(ConvoyCountError):
    """The clip cannot be read (missing, not a video, cut short before its index, ...)."""


class ModelUnavailableError(ConvoyCountError):
    """A detector's weights are missing and cannot be obtained here."""


class ConvoyCountWarning(UserWarning):
    """A survivable condition the report should mention (e.g. a truncated clip)."""
