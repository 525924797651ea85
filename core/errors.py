"""The one exception type that front ends show to users as a single clear line."""


class EmotionLensError(Exception):
    """A problem the user can fix (bad input, missing package, mismatched files).

    The CLI prints it as one line on stderr and exits non-zero; the app shows it
    with ``st.error``. Anything else escaping ``core`` is a bug.
    """
