"""Writing local files of the trend commands: private (mode 0600) and atomic."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from feeds.errors import DocumentError

__all__ = ["write_private"]


def write_private(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` (mode 0600) through ``write``, replacing it atomically: never half-written.

    Raises `DocumentError` if it cannot be written; the file is then left as it was.
    """
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DocumentError(str(path), f"cannot write it ({reason})") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        raise DocumentError(str(path), f"cannot write it ({reason})") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
