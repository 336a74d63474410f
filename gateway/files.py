"""Private files in the data directory, and the gateway secret kept there.

Files that hold secrets or personal data (`secret.key`, `keys.json`, `demo.json`, the SQLite
database) are readable by the gateway's user alone from their first byte: each is written
under a temporary name created with mode 0600 and then linked into place (the first writer
wins) or renamed over the old file, so no reader ever sees it empty or half written, and
workers starting together agree on one value. Directories are created with mode 0700.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from gateway.settings import Settings
from policies.messages import Text

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SECRET_BYTES = 32


class PrivateFileError(RuntimeError):
    """A private file exists but cannot be used; the message names the file and the fix."""

    def __init__(self, message: Text) -> None:
        super().__init__(str(message))
        self.message = message


def private_dir(path: Path) -> Path:
    """`path` as a directory, created with mode 0700 if missing (an existing one is kept)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600; false when it exists already."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`; readers see the old content or the new, never a part."""
    staged = _stage(path, data)
    try:
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    _sync_dir(path.parent)


def create_private(path: Path, data: bytes) -> bytes:
    """Create `path` holding `data` unless it exists; the content the file holds then.

    Of several processes creating the same file at once, one writes it and every one of
    them returns that writer's content.
    """
    if not path.exists():
        staged = _stage(path, data)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(staged, path)
        finally:
            staged.unlink(missing_ok=True)
        _sync_dir(path.parent)
    return path.read_bytes()


def _stage(path: Path, data: bytes) -> Path:
    private_dir(path.parent)
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


def _sync_dir(path: Path) -> None:
    # The new name must survive a crash too: a lost `secret.key` changes every pairwise id.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_secret(settings: Settings) -> bytes:
    """The gateway secret (pairwise ids, DPoP nonces, authorize sessions).

    `OBGW_SECRET_KEY` wins; else `<data dir>/secret.key`, created on first start. Every
    replica must share it. A file that is not a whole secret stops the start-up: running on
    an empty key would make every pairwise id guessable.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret.key"
    value = create_private(path, secrets.token_hex(SECRET_BYTES).encode()).strip()
    if len(value) < 2 * SECRET_BYTES:
        raise PrivateFileError(
            Text(
                "{path} holds {length} characters, not a {expected}-character secret: restore "
                "it from a backup (pairwise customer ids depend on it), or delete it to "
                "generate a new one.",
                "{path} 只有 {length} 个字符，不是 {expected} 个字符的密钥：请从备份恢复该文件"
                "（客户的成对标识依赖于它），或删除它以生成新的密钥。",
            ).format(path=path, length=len(value), expected=2 * SECRET_BYTES)
        )
    return value
