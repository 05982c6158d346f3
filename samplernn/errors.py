"""The one exception type that scripts turn into a clean, one-line message."""


class UserError(Exception):
    """A problem with the user's input (a flag, a file, a config), not a bug.

    The message must fit on one line and say what to do about it. The
    top-level scripts catch this and print ``error: <message>`` with no
    traceback.
    """


class UndecodableAudio(UserError):
    """An input file that is not audio, or not audio that can be decoded here: a folder
    of inputs skips it with a warning, a single input is an error."""
