"""The runs/ directory contract: names, paths and atomic writes.

Layout (see runs/README.md)::

    runs/
      datasets/<dataset>/        train.pt val.pt test_easy.pt test_hard.pt metadata.json samples_<split>.png
      <run>/                     config.json history.jsonl curves.png best.pt last.pt eval/ counterfactual/ ...

Every file another command trusts is written to a temporary sibling and then
renamed into place, so a killed command leaves either the old file or the new
one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import LazyError, UsageError

DATASETS_DIR = "datasets"
RESERVED_NAMES = {DATASETS_DIR, "study", "report", "sweeps"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_name(name: str, what: str = "run name") -> str:
    """Reject names that could escape the runs directory or clash with its layout."""
    if not _NAME_RE.match(name) or name in {".", ".."} or ".." in name:
        raise UsageError(
            f"{what} {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(no path separators, no leading dot, at most 100 characters)"
        )
    if name in RESERVED_NAMES:
        raise UsageError(f"{what} {name!r} is reserved by the runs/ layout; choose another")
    return name


def ensure_dir(path: Path) -> Path:
    """Create a directory (and parents) or fail with one clear line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise LazyError(f"cannot write to {path}: {exc.strerror or exc}") from None
    return path


def dataset_dir(runs_dir: Path, name: str) -> Path:
    return runs_dir / DATASETS_DIR / check_name(name, "dataset name")


def run_dir(runs_dir: Path, name: str) -> Path:
    return runs_dir / check_name(name)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


# The version of every JSON file `lazy` writes into a runs directory (a key ``schema_version`` first in
# each object). Version 1 spells colour "color" in every key; files without the key (version 0) are
# upgraded when read (``upgrade``), so runs stored by older versions still load.
SCHEMA_VERSION = 1
_V1_KEYS = {"colourness": "colorness", "colour_score": "color_score", "solid_colour_score": "solid_color_score",
            "colour_purity": "color_purity", "top_colour": "top_color", "colours": "colors"}


def write_json_atomic(path: Path, obj: Any) -> None:
    if isinstance(obj, dict) and "schema_version" not in obj:
        obj = {"schema_version": SCHEMA_VERSION, **obj}
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def upgrade(obj: Any) -> Any:
    """A JSON document read from a runs directory, in today's schema (older key spellings renamed)."""
    if not isinstance(obj, dict) or obj.get("schema_version", 0) >= SCHEMA_VERSION:
        return obj

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {_V1_KEYS.get(k, k): walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return {"schema_version": SCHEMA_VERSION, **walk(obj)}


def torch_save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` through a buffer (so the bytes do not depend on the file name), then an atomic write."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(path, buf.getvalue())


def read_json(path: Path, what: str) -> Any:
    try:
        return upgrade(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise LazyError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LazyError(f"{what} is corrupted ({path}): {exc}") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A temporary directory beside ``final``; moved onto ``final`` on success.

    An existing ``final`` is replaced only after the new content is complete.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}.tmp"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def torch_load_safe(path: Path, what: str, missing_hint: str) -> Any:
    """``torch.load(weights_only=True)`` on the CPU; a missing or damaged file is one clear LazyError."""
    import pickle
    import zipfile

    import torch

    if not path.is_file():
        raise LazyError(f"{what} not found: {path} ({missing_hint})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise LazyError(f"{what} {path} is corrupted: {str(exc).splitlines()[0][:200]}") from None


# ---------- run-level locks: one writer per run or dataset
LOCKS_DIR = ".locks"
_HELD: dict[str, int] = {}  # lock path -> depth, for this process (a study trains a run, then evaluates it)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (an exited process nobody has reaped
    yet, e.g. an orphaned worker under a PID 1 that does not reap: it writes nothing any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS) or gone this instant: trust kill(0)
    return state not in ("Z", "X")


def _dead_here(holder: dict[str, Any], me: dict[str, Any]) -> bool:
    """Whether a lock record names a process of this host that no longer runs (a killed command)."""
    pid = holder.get("pid")
    return isinstance(pid, int) and holder.get("host") == me["host"] and not _alive(pid)


ORPHAN_GRACE = 5.0  # seconds a holder whose parent is gone gets to end before it counts as a live writer


def _ending_orphan(holder: dict[str, Any], me: dict[str, Any], grace: float = ORPHAN_GRACE) -> bool:
    """Whether a live holder of this host is an orphan that ends within ``grace`` seconds: a pool worker of a killed
    study or sweep exits the moment it sees its parent gone (``executors.process.die_with_parent``), but a rerun
    started right after the kill can find it still alive for a fraction of a second. True once it has ended."""
    import time

    pid, ppid = holder.get("pid"), holder.get("ppid")
    if not (isinstance(pid, int) and isinstance(ppid, int) and ppid > 1 and holder.get("host") == me["host"]) or _alive(ppid):
        return False
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written this instant, or damaged


def lock_path(runs_dir: Path, kind: str, name: str) -> Path:
    return runs_dir / LOCKS_DIR / f"{kind}-{name}.lock"


@contextlib.contextmanager
def write_lock(runs_dir: Path, kind: str, name: str) -> Iterator[Path]:
    """Hold the exclusive write lock of one run (``kind="run"``) or dataset while a command writes it.

    The lock is ``runs/.locks/<kind>-<name>.lock``, created atomically and whole (see ``_create_lock``),
    holding the holder's pid, its parent's pid, host, command line and start time. A second writer (with or without ``--force``) gets a LazyError
    naming the holder (exit 1). A lock whose holder process no longer exists on this host (a killed
    command) is stale and is taken over; the takeover itself is serialised by a guard file created the
    same way, so two newcomers cannot both take it. Re-entrant within one process. Released on exit,
    even on errors. A kill can leave a private ``*.tmp`` file in ``.locks``; it is never read."""
    import datetime
    import socket
    import sys
    import time

    path = lock_path(runs_dir, kind, name)
    key = str(path.absolute())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield path
        finally:
            _HELD[key] -= 1
        return
    ensure_dir(path.parent)
    me = {"pid": os.getpid(), "ppid": os.getppid(), "host": socket.gethostname(),
          "command": " ".join(["lazy", *sys.argv[1:]])[:300],
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    for _ in range(50):
        if _create_lock(path, me):
            break
        holder = _read_lock(path)
        if holder is None:
            continue  # released meanwhile: try again
        if not holder:
            time.sleep(0.05)  # being written (only without hard links): read it again
            holder = _read_lock(path)
            if holder is None:
                continue
        pid, host = holder.get("pid"), holder.get("host")
        if _dead_here(holder, me) or (not holder and _age(path) > 10) or _ending_orphan(holder, me):
            _take_over(path, holder, me)  # a killed holder (or one ending now), or an empty/damaged lock nobody is writing
            continue
        if not holder:
            raise LazyError(f"{kind} {name!r} is locked by {path}, which names no holder yet (being created this instant, or "
                            "damaged); try again in a few seconds (an unreadable lock is taken over once it is 10 s old)") from None
        raise LazyError(f"{kind} {name!r} is being written by another process (pid {pid} on {host}, since "
                        f"{holder.get('started')}: {holder.get('command')}); wait for it to finish, or remove {path} "
                        "if that process is gone") from None
    else:
        raise LazyError(f"could not take the lock {path}: it kept changing hands")
    _HELD[key] = 1
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            held = _read_lock(path) or {}
            if held.get("pid") == os.getpid() and held.get("host") == me["host"]:
                path.unlink()


def _create_lock(path: Path, me: dict[str, Any]) -> bool:
    """Create the lock file holding ``me``, atomically; False if it exists already.

    The content is written to a private file first and hard-linked into place, so a command killed at any
    instant leaves either no lock or a complete one, never an empty lock that names nobody. Where the file
    system has no hard links, the lock is created with O_EXCL and written after (an empty lock left by a
    kill in between is then treated as stale once it is 10 s old)."""
    import errno

    tmp = path.with_name(f"{path.name}.{me['host']}.{os.getpid()}.tmp")  # private to this process on this host
    tmp.write_text(json.dumps(me))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        # NFS may report EEXIST for a link that was made (a retried request): then the private file has 2 links
        return os.stat(tmp).st_nlink == 2 and _read_lock(path) == me
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS):
            raise
        # no hard links on this file system
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _age(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _take_over(path: Path, stale: dict[str, Any], me: dict[str, Any]) -> None:
    """Remove a stale lock, unless another newcomer got there first (then the caller simply tries again).

    The takeover is serialised by a guard file, written whole like the lock; a guard left by a newcomer that
    was killed mid-takeover is removed: at once when its pid is gone from this host, after 30 s when its
    owner cannot be checked (another host, or unreadable). A live owner's guard is never taken."""
    import time

    guard = path.with_name(path.name + ".takeover")
    if not _create_lock(guard, me):
        owner = _read_lock(guard)
        if owner is not None:
            unknowable = not (isinstance(owner.get("pid"), int) and owner.get("host") == me["host"])  # unreadable, another host
            if _dead_here(owner, me) or (unknowable and _age(guard) > 30):
                with contextlib.suppress(FileNotFoundError):
                    guard.unlink()
        time.sleep(0.05)
        return
    try:
        if _read_lock(path) == stale:  # still the same dead holder
            path.unlink()
    finally:
        with contextlib.suppress(FileNotFoundError):
            guard.unlink()
