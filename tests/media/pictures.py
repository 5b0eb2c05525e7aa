"""Real pictures made with Pillow, hostile files, and a threaded HTTP server on loopback that
serves them: what the media tests fetch."""

from __future__ import annotations

import io
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int = 1600, height: int = 1200, fmt: str = "JPEG", **options: object) -> bytes:
    """A picture with detail in it (a Mandelbrot set), as a camera's would have."""
    image = Image.effect_mandelbrot((width, height), (-2.0, -1.5, 1.0, 1.5), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def with_gps(width: int = 1200, height: int = 800, orientation: int = 6) -> bytes:
    """A JPEG carrying GPS coordinates, a camera maker and a turned orientation."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PressCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (39.0, 54.0, 27.0), "E", (116.0, 23.0, 51.0)
    return photo(width, height, "JPEG", quality=90, exif=exif.tobytes())


def png_bomb(side: int = 30_000) -> bytes:
    """A PNG of side x side pixels (one bit each, all zero) that compresses to ~100 KB."""
    rows = b"\x00" * (1 + (side + 7) // 8) * 1000
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(rows) for _ in range(side // 1000)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


EVIL_SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>fetch('http://169.254.169.254/')</script><rect width='10' height='10'/></svg>"
)
NOT_A_PICTURE = b"This is a text file named like a picture.\n" * 20


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: int = 0  # send this many bytes in chunks, without a Content-Length
    trickle: float = 0.0  # seconds the server idles between chunks of a stream


@dataclass
class PictureServer:
    """What the server serves (path -> Route) and what it was asked (path, Host header)."""

    host: str
    port: int
    routes: dict[str, Route]
    requests: list[tuple[str, str]] = field(default_factory=list)
    streamed: dict[str, int] = field(default_factory=dict)  # path -> bytes a stream sent

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        self.routes[path] = Route(body=body, headers={"Content-Type": content_type})
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status=status, headers={"Location": location})
        return self.url(path)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of access lines."""

    def log_message(self, *_: object) -> None:
        return


def _handler(server: PictureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Host", "")))
            route = server.routes.get(self.path.split("?", 1)[0], Route(status=404))
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.stream:
                self.send_header("Connection", "close")
                self.end_headers()
                self._stream(route.stream, route.trickle)
                return
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def _stream(self, size: int, trickle: float) -> None:
            chunk = b"\xff\xd8\xff" + b"\0" * ((1024 if trickle else 64 * 1024) - 3)
            sent = 0
            try:
                while sent < size:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    sent += len(chunk)
                    server.streamed[self.path] = sent
                    time.sleep(trickle)  # a slow upstream, as the fetch sees it
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped reading, as it should

    return Handler


@contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler],
    host: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
) -> Iterator[int]:
    """A threaded HTTP server on an ephemeral port (behind `tls` if given), serving on a
    thread of its own; yields the port, stopped on exit."""
    httpd = ThreadingHTTPServer((host, 0), handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def picture_server(
    host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> Iterator[PictureServer]:
    """The test's picture server on loopback, behind `tls` if given, stopped on exit."""
    state = PictureServer(host, 0, {})
    with http_server(_handler(state), host, tls) as state.port:
        yield state


Maker = Callable[[], bytes]


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` that no public authority signed, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def tls_picture_server(host: str, cert: Path, key: str | Path) -> Iterator[PictureServer]:
    """The picture server behind TLS with the given certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with picture_server(host, context) as state:
        yield state
