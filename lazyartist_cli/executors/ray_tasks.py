"""``ray``: one Ray task per point, on an existing cluster (``--address``) or a local Ray instance.

Ray schedules the tasks (each asks for ``cpus_per_task`` CPUs and, when CUDA is present, a
fraction of a GPU so that ``workers`` tasks share one), retries a task whose worker died, and
returns results through its object store. Ray is an optional extra: ``pip install -e ".[ray]"``.
Every node must be able to import ``lazyartist_cli`` and see the runs directory (a shared path).

Before anything is built, ``check`` probes ``--address`` (a TCP connect, then one gRPC call to the GCS, each
given ``PROBE_TIMEOUT`` seconds; the call is spoken by hand over HTTP/2, so it needs no grpcio): a mistyped, unreachable or token-protected cluster fails in seconds with one
line naming the address, instead of after Ray's own connection timeout (minutes).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from typing import Any, Optional

from ..errors import LazyError, UsageError
from .base import Executor, collect, cpu_count

PROBE_TIMEOUT = 3.0  # seconds per probe step; a reachable cluster answers both in milliseconds
GCS_PORT, CLIENT_PORT = 6379, 10001  # Ray's defaults: the GCS of `ray start --head`, and the Ray Client server
_HOST_PORT = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:/\[\]]+))(?::(?P<port>[^:]*))?$")


def parse_address(address: str) -> Optional[tuple[str, int, bool]]:
    """``(host, port, client)`` of a Ray address (``client``: a ``ray://`` Ray Client address), or None for
    ``auto``/``local`` (Ray finds or starts the cluster itself). A malformed address is a UsageError."""
    usage = (f"--address {address!r} is not a Ray address: give HOST:PORT of the head node's GCS (e.g. 10.0.0.5:{GCS_PORT}), "
             f"ray://HOST[:PORT] (Ray Client, port {CLIENT_PORT} by default) or auto")
    if address in ("auto", "local"):
        return None
    client = address.startswith("ray://")
    rest = address[len("ray://"):] if client else address
    if "://" in rest:
        raise UsageError(usage + (" (http:// is the dashboard's address, for `ray job submit`)" if rest.startswith("http") else ""))
    m = _HOST_PORT.match(rest.rstrip("/") if client else rest)
    if not m or (m["port"] is None and not client):
        raise UsageError(usage)
    port = CLIENT_PORT if m["port"] is None else (int(m["port"]) if m["port"].isdigit() else -1)
    if not 1 <= port <= 65535:
        raise UsageError(f"--address {address!r}: the port must be a number from 1 to 65535")
    return (m["ip6"] or m["host"]), port, client


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _literal(value: str, name: str = "", index: int = 0) -> bytes:
    """An HPACK literal header field without indexing (plain strings; short enough for one-byte lengths)."""
    v = value.encode()
    head = bytes([index]) if index else b"\x00" + bytes([len(name)]) + name.encode()
    return head + bytes([len(v)]) + v


_STATIC = {8: (":status", "200"), 9: (":status", "204"), 10: (":status", "206"), 11: (":status", "304"),
           12: (":status", "400"), 13: (":status", "404"), 14: (":status", "500"), 31: ("content-type", "")}


def _hpack(block: bytes, table: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The header fields of one HPACK block: enough of RFC 7541 to read a gRPC server's status (no Huffman
    strings: a ValueError, the caller then leaves the judgement to Ray). ``table`` is the dynamic table."""
    out: list[tuple[str, str]] = []
    i = 0

    def integer(bits: int) -> int:
        nonlocal i
        mask = (1 << bits) - 1
        v, i = block[i] & mask, i + 1
        shift = 0
        while v >= mask and shift < 28:
            byte, i = block[i], i + 1
            v += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return v

    def string() -> str:
        nonlocal i
        huffman = block[i] & 0x80
        n = integer(7)
        if huffman:
            raise ValueError("Huffman-coded header")
        text, i = block[i:i + n].decode("latin-1"), i + n
        return text

    def entry(index: int) -> tuple[str, str]:
        return _STATIC.get(index, ("", "")) if index <= 61 else table[index - 62]

    while i < len(block):
        first = block[i]
        if first & 0x80:  # indexed field
            out.append(entry(integer(7)))
        elif first & 0x40:  # literal, added to the dynamic table
            index = integer(6)
            name = entry(index)[0] if index else string()
            field = (name, string())
            table.insert(0, field)
            out.append(field)
        elif first & 0x20:  # dynamic table size update
            integer(5)
        else:  # literal, not indexed / never indexed
            index = integer(4)
            name = entry(index)[0] if index else string()
            out.append((name, string()))
    return out


def _gcs_call(host: str, port: int, token: tuple[tuple[str, str], ...], timeout: float) -> dict[str, str]:
    """One gRPC call of Ray's GCS (``NodeInfoGcsService/GetClusterId``, an empty request) spoken by hand over
    HTTP/2 (no grpcio needed), with this driver's token when it has one. Returns the response's headers and
    trailers (``:status``, ``grpc-status``, ``grpc-message``); ``{"http2": "no"}`` when the port does not
    answer as an HTTP/2 server; ``{}`` when its answer cannot be read. OSError when the TCP connect fails."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    fields = b"\x83\x86" + _literal("/ray.rpc.NodeInfoGcsService/GetClusterId", index=4) + _literal(target, index=1)
    fields += _literal("application/grpc", "content-type") + _literal("trailers", "te")
    fields += b"".join(_literal(v, k) for k, v in token)
    request = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, b"") + _frame(1, 0x4, 1, fields)  # SETTINGS, HEADERS
               + _frame(0, 0x1, 1, b"\x00" * 5))  # DATA: an uncompressed empty message, end of stream
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        buf, headers, table, first = b"", {}, [], True
        with contextlib.suppress(OSError, ValueError, IndexError):  # reset, closed, silent or unreadable: what we have
            while True:
                while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return headers if not first else {"http2": "no"}
                    buf += chunk
                    if first and len(buf) >= 9 and buf[3] != 4:  # an HTTP/2 server opens with SETTINGS
                        return {"http2": "no"}
                size, kind, flags, stream = int.from_bytes(buf[:3], "big"), buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf, first = buf[9:9 + size], buf[9 + size:], False
                if kind in (3, 7) and stream in (0, 1):  # RST_STREAM, GOAWAY: no answer to read
                    return headers
                if kind in (1, 9) and stream == 1:  # HEADERS, CONTINUATION of our call
                    if kind == 1 and flags & 0x8:  # padded
                        payload = payload[1:len(payload) - payload[0]]
                    if kind == 1 and flags & 0x20:  # priority
                        payload = payload[5:]
                    headers.update(_hpack(payload, table))
                    if flags & 0x1:  # end of stream: the trailers are in
                        return headers
        if first:
            return {"http2": "no"}
        return headers


def _run_with_timeout(fn: Any, timeout: float) -> Any:
    """``fn()`` in a daemon thread given ``timeout`` seconds (a name lookup has no timeout of its own)."""
    outcome: list[Any] = []

    def attempt() -> None:
        try:
            outcome.append((True, fn()))
        except OSError as exc:
            outcome.append((False, exc))

    t = threading.Thread(target=attempt, name="lazy-ray-probe", daemon=True)
    t.start()
    t.join(timeout)
    if not outcome:
        raise TimeoutError(f"no answer within {timeout:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _driver_token_header() -> tuple[tuple[str, str], ...]:
    """The ``authorization`` metadata Ray would send from this driver (its token from RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token), or () when it has none."""
    try:
        from ray._raylet import AuthenticationTokenLoader  # Ray >= 2.52; older Rays have no token authentication
    except ImportError:
        return ()
    try:
        loader = AuthenticationTokenLoader.instance()
        if not loader.has_token(ignore_auth_mode=True):
            return ()
        return tuple(loader.get_token_for_http_header().items())
    except Exception:  # noqa: BLE001 - a private Ray API: when it changes, the probe just sends no token
        return ()


def probe_address(address: str, timeout: float = PROBE_TIMEOUT, token: Optional[tuple[tuple[str, str], ...]] = None) -> None:
    """Raise a LazyError naming ``address`` when no Ray cluster answers there within seconds: the host is
    unknown, nothing listens on the port, the port is not a GCS, or the cluster wants a token this driver lacks
    (or refuses the one it has). A UsageError for a malformed address. Silent when a cluster answers, or when
    its answer cannot be read (then Ray judges). ``token``: the driver's (default: as Ray would find it)."""
    parsed = parse_address(address)
    if parsed is None:
        return
    host, port, client = parsed
    where = f"the Ray cluster at {address}"
    token = _driver_token_header() if token is None else token
    try:
        if client:  # the Ray Client server: reachable is all that can be asked of it cheaply
            _run_with_timeout(lambda: socket.create_connection((host, port), timeout=timeout).close(), timeout + 0.5)
            return
        answer = _run_with_timeout(lambda: _gcs_call(host, port, token, timeout), 2 * timeout + 0.5)
    except socket.gaierror as exc:
        raise LazyError(f"cannot reach {where}: host {host!r} not found ({exc.strerror or exc})") from None
    except ConnectionRefusedError:
        default = CLIENT_PORT if client else GCS_PORT
        raise LazyError(f"cannot reach {where}: connection refused (nothing listens on port {port} of {host}; "
                        f"is the cluster started, and is {port} its {'Ray Client' if client else 'GCS'} port ({default} by default)?)") from None
    except (TimeoutError, socket.timeout):
        raise LazyError(f"cannot reach {where}: no answer within {timeout:g} s (a firewall, a wrong host, or the cluster is down)") from None
    except OSError as exc:
        raise LazyError(f"cannot reach {where}: {exc.strerror or exc}") from None
    not_gcs = f"give the head node's GCS port ({GCS_PORT} by default; 8265 is the dashboard)"
    if answer.get("http2") == "no":
        raise LazyError(f"cannot reach {where}: port {port} answers, but not as a Ray GCS (no HTTP/2 reply); {not_gcs}")
    if answer.get(":status", "200") != "200":
        raise LazyError(f"cannot reach {where}: port {port} answers HTTP {answer[':status']}, not as a Ray GCS; {not_gcs}")
    if answer.get("grpc-status") == "16":  # UNAUTHENTICATED
        if token:
            raise LazyError(f"{where} refused this driver's authentication token (from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH "
                            "or ~/.ray/auth_token): use that cluster's token (`ray get-auth-token` on its head node)")
        raise LazyError(f"{where} needs an authentication token and this driver has none: set RAY_AUTH_TOKEN (or "
                        "RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token) to the cluster's token (`ray get-auth-token` on its head node)")
    # grpc-status 0 (a GCS answered), another status or an unreadable answer: Ray itself judges the rest


class RayExecutor(Executor):
    name = "ray"

    def check(self) -> None:
        if self.address:  # the probe needs no Ray: a bad address is named even where Ray is not installed
            probe_address(self.address)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError('--executor ray needs Ray: pip install -e ".[ray]"') from None

    def run(self, fn, jobs, reporter):
        try:
            import ray
        except ImportError:
            raise UsageError('--executor ray needs Ray: pip install -e ".[ray]"') from None
        import torch

        started_here = not ray.is_initialized()
        if started_here:
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=min(self.workers, cpu_count()), include_dashboard=False, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - Ray raises several types for an unreachable or refusing cluster
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                raise LazyError(f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        try:
            total_cpus = int(ray.cluster_resources().get("CPU", 1))
            cpus = min(total_cpus, max(1, int(jobs[0].get("threads") or 1))) if jobs else 1
            gpus = (1.0 / self.workers) if torch.cuda.is_available() else 0
            task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=2)(fn)
            handles = {task.remote(job): i for i, job in enumerate(jobs)}
            return collect(handles, jobs, max(1, total_cpus // cpus), lambda hs: ray.wait(hs, num_returns=1)[0], ray.get,
                           "ray task failed", reporter)
        finally:
            if started_here:
                ray.shutdown()
