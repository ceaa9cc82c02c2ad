"""Find, verify and (if needed) download the four MNIST / Fashion-MNIST IDX files.

Search order: a directory the user names (``--mnist-dir``, ``data.mnist_dir``
or ``LAZY_MNIST_DIR``, ``LAZY_FASHION_MNIST_DIR`` for Fashion-MNIST; for Fashion-MNIST also Debian's
``/usr/share/datasets/fashion-mnist``), then the tool's cache
(``LAZY_CACHE_DIR``, else ``$XDG_CACHE_HOME/lazyartist``, else ``~/.cache/lazyartist``), then a download from the usual
mirrors into that cache. Every file is checked by the SHA-256 of its
uncompressed IDX payload, so gzip and raw copies are both accepted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import LazyError

# file stem -> sha256 of the uncompressed IDX payload (values from ../shared/data/mnist/README.md)
# Facts of both base datasets (MNIST, Fashion-MNIST): 28 x 28 grayscale images, 10 classes.
IMAGE_SIZE = 28
NUM_CLASSES = 10

MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Recorded from Debian's dataset-fashion-mnist (0.0~git20200523.55506a9-1) files:
# sha256 of `zcat /usr/share/datasets/fashion-mnist/<file>.gz`.
FASHION_FILES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


@dataclass(frozen=True)
class BaseSpec:
    name: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...]
    env_var: str


BASES = {
    "mnist": BaseSpec(
        "mnist",
        MNIST_FILES,
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        (),
        "LAZY_MNIST_DIR",
    ),
    "fashion-mnist": BaseSpec(
        "fashion-mnist",
        FASHION_FILES,
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        ("/usr/share/datasets/fashion-mnist",),
        "LAZY_FASHION_MNIST_DIR",
    ),
}


@dataclass
class RawMnist:
    """The base dataset as uint8 arrays: images (N, 28, 28), labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    payload_sha256: dict[str, str]


ProgressFn = Callable[[str, int, Optional[int]], None]  # (file, bytes done, total or None)


def default_cache_dir() -> Path:
    env = os.environ.get("LAZY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lazyartist"


def _read_payload(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise LazyError(f"{path} cannot be read as an IDX file (truncated or corrupted gzip?): {exc}") from None
    return data


def _find_file(directory: Path, stem: str) -> Optional[Path]:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def parse_idx(data: bytes, path: str = "<bytes>") -> np.ndarray:
    """Parse an IDX payload (unsigned bytes) into an array of its declared shape."""
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise LazyError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise LazyError(f"{path}: IDX payload length does not match its header (truncated?)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _load_verified(directory: Path, spec: BaseSpec) -> Optional[RawMnist]:
    """Load all four files from ``directory`` if they are all present; verify every hash."""
    paths = {stem: _find_file(directory, stem) for stem in spec.files}
    if any(p is None for p in paths.values()):
        return None
    arrays = {}
    for stem, expected in spec.files.items():
        payload = _read_payload(paths[stem])
        got = hashlib.sha256(payload).hexdigest()
        if got != expected:
            raise LazyError(
                f"{paths[stem]} is wrong or truncated: SHA-256 of its payload is {got[:16]}..., "
                f"expected {expected}"
            )
        arrays[stem] = parse_idx(payload, str(paths[stem]))
    return RawMnist(
        arrays["train-images-idx3-ubyte"],
        arrays["train-labels-idx1-ubyte"].astype(np.int64),
        arrays["t10k-images-idx3-ubyte"],
        arrays["t10k-labels-idx1-ubyte"].astype(np.int64),
        str(directory),
        dict(spec.files),
    )


def _download(spec: BaseSpec, cache: Path, progress: Optional[ProgressFn], timeout: float) -> list[str]:
    """Download missing files into ``cache``; return the errors met (empty when all arrived)."""
    errors: list[str] = []
    cache.mkdir(parents=True, exist_ok=True)
    for stem, expected in spec.files.items():
        if _find_file(cache, stem) is not None:
            continue
        target = cache / f"{stem}.gz"
        done = False
        for mirror in spec.mirrors:
            url = mirror + stem + ".gz"
            tmp = target.with_suffix(".gz.part")
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as fh:
                    total = resp.headers.get("Content-Length")
                    total_i = int(total) if total and total.isdigit() else None
                    got = 0
                    while True:
                        block = resp.read(1 << 16)
                        if not block:
                            break
                        fh.write(block)
                        got += len(block)
                        if progress:
                            progress(stem, got, total_i)
                payload = _read_payload(tmp)
                if hashlib.sha256(payload).hexdigest() != expected:
                    errors.append(f"{url}: checksum mismatch")
                    tmp.unlink()
                    continue
                os.replace(tmp, target)
                done = True
                break
            except (urllib.error.URLError, OSError, TimeoutError, LazyError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                if tmp.exists():
                    tmp.unlink()
        if not done:
            return errors
    return []


def load_base(
    base: str = "mnist",
    mnist_dir: Optional[Path] = None,
    cache_dir: Optional[Path] = None,
    download: bool = True,
    progress: Optional[ProgressFn] = None,
    timeout: float = 20.0,
) -> RawMnist:
    """Locate, verify and load the base dataset, or raise one error naming the three ways to provide it."""
    spec = BASES[base]
    env = os.environ.get(spec.env_var)
    named = mnist_dir or (Path(env) if env else None)
    tried: list[str] = []
    for directory in ([named] if named else []) + [Path(d) for d in spec.system_dirs]:
        if directory.is_dir():
            raw = _load_verified(directory, spec)
            if raw is not None:
                return raw
        tried.append(str(directory))
    cache = cache_dir or default_cache_dir() / base
    raw = _load_verified(cache, spec) if cache.is_dir() else None
    if raw is not None:
        return raw
    tried.append(str(cache))
    errors = _download(spec, cache, progress, timeout) if download else ["downloads disabled"]
    if not errors:
        raw = _load_verified(cache, spec)
        if raw is not None:
            return raw
    names = ", ".join(f"{s}.gz" for s in spec.files)
    raise LazyError(
        f"{base} not found (looked in: {', '.join(tried)}; download failed: {errors[0] if errors else 'unknown'}). "
        f"Provide the four IDX files ({names}) in one of three ways: "
        f"(1) pass --mnist-dir DIR or set data.mnist_dir / {spec.env_var} to a directory holding them, "
        f"(2) copy them into the cache {cache}, or "
        f"(3) connect to the internet so they can be downloaded and verified automatically."
    )
