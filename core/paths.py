"""Where the project's files and the user's caches live."""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
CORPUS = ASSETS / "corpus"
EXAMPLES = ASSETS / "examples"
CACHED_VECTORS = ROOT / "cached_vectors"


def cache_dir() -> Path:
    """User cache for converted models; ``EMOTION_LENS_CACHE`` overrides it (tests, CI)."""
    base = os.environ.get("EMOTION_LENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "emotion-lens"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def disk_errors(target: Path):
    """Writers in Rust (safetensors) report a full disk as their own error type ("I/O error: File
    too large (os error 27)"): raise it as the OSError it is, naming the file, so every front end
    says it in one line."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        code = re.search(r"os error (\d+)", str(exc))
        if code is None:
            raise
        raise OSError(int(code[1]), os.strerror(int(code[1])), str(target)) from exc


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary sibling path; rename it onto ``target`` only if the block succeeds.

    Readers therefore see either the old file or the complete new one, never a partial.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with disk_errors(target):
            yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; built artifacts are shared files
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


STALE_AFTER = 3600.0  # seconds untouched: no live writer leaves a temporary that long


def sweep_stale_temporaries(folder: Path, older_than: float = STALE_AFTER) -> None:
    """Remove what a killed writer left in ``folder``: ``atomic_path``'s ``.NAME.*.tmp`` and the
    ``.tmpXXXXXX`` safetensors writes through (a story checkpoint's is ~0.6 GB for a 1.5B model)."""
    import time

    for pattern in (".tmp*", ".*.tmp"):
        for path in Path(folder).glob(pattern):
            _unlink_if_older(path, time.time() - older_than)


def _unlink_if_older(path: Path, cutoff: float) -> None:
    try:
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink()
    except OSError:
        pass  # gone already, or not ours to remove


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
