"""The one exception type that front ends show to users as a single clear line."""


class EmotionLensError(Exception):
    """A problem the user can fix (bad input, missing package, mismatched files).

    The CLI prints it as one line on stderr and exits non-zero; the app shows it
    with ``st.error``. Anything else escaping ``core`` is a bug.
    """


def os_error_text(exc: OSError) -> str:
    """A full disk, a file size limit or a missing permission, as one line. Every file core writes
    goes to a temporary sibling first (``core.paths.atomic_path``), so what was in place is kept."""
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot write or read{where}: {exc.strerror or exc}; files already in place were left as they were"
