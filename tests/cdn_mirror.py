"""A local mirror of the jsDelivr npm CDN, for checking the built book's widgets offline.

The published pages load the widget renderer (``@jupyter-widgets/html-manager``) and require.js
from ``https://cdn.jsdelivr.net/npm/<package>@<version>/<file>``. jsDelivr serves the files of
the npm package as published, so this mirror fetches the same package with ``npm pack`` (the npm
registry is reachable where the network is not) and serves its files over HTTPS on 127.0.0.1.
The browser is told to resolve cdn.jsdelivr.net to the mirror and to accept its certificate.
"""

from __future__ import annotations

import functools
import http.server
import mimetypes
import shutil
import ssl
import subprocess
import tarfile
import threading
from pathlib import Path

HOST = "cdn.jsdelivr.net"


def split_npm_path(path: str) -> tuple[str, str]:
    """``/npm/@scope/name@1.0/dist/x.js`` -> (``@scope/name@1.0``, ``dist/x.js``)."""
    parts = path.split("?", 1)[0].removeprefix("/npm/").split("/")
    count = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:count]), "/".join(parts[count:])


class NpmMirror:
    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def package(self, spec: str) -> Path:
        """The unpacked files of npm package ``spec`` (``name@version``), fetched once."""
        target = self.cache / spec.replace("/", "__")
        with self._lock:
            if not target.exists():
                npm = shutil.which("npm")
                if npm is None:
                    raise RuntimeError("npm is needed to mirror the widget CDN: install Node.js")
                result = subprocess.run(
                    [npm, "pack", spec, "--silent", "--pack-destination", str(self.cache)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                archive = self.cache / result.stdout.strip().splitlines()[-1]
                partial = target.with_suffix(".part")
                with tarfile.open(archive) as tar:
                    tar.extractall(partial, filter="data")
                (partial / "package").rename(target)
                shutil.rmtree(partial)
        return target

    def serve(self) -> tuple[http.server.ThreadingHTTPServer, int]:
        """Start the HTTPS server on 127.0.0.1; returns it and its port."""
        cert, key = self.cache / "cdn.pem", self.cache / "cdn.key"
        if not cert.exists():
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    f"/CN={HOST}",
                    "-keyout",
                    str(key),
                    "-out",
                    str(cert),
                ],
                capture_output=True,
                check=True,
            )
        handler = functools.partial(_Handler, self)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, server.server_address[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, mirror: NpmMirror, *args, **kwargs) -> None:
        self.mirror = mirror
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        spec, name = split_npm_path(self.path)
        try:
            file = self.mirror.package(spec) / name
        except subprocess.CalledProcessError:
            file = None
        if file is None or not file.is_file():
            self.send_error(404, f"{spec}/{name} is not in the npm package")
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header(
            "Content-Type", mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
