"""Fetch the browser files the built pages need for their widgets into ``book/_static/vendor``.

    python tools/vendor_web_assets.py

Pages with saved widget state load require.js and the ipywidgets renderer
(``@jupyter-widgets/html-manager``). Served from a CDN they leave the widgets blank for a reader
who opens ``_build/html`` without a network (a classroom, a train), so the book ships them: this
tool takes them from the npm registry with ``npm pack``, checks each package against the
integrity hash pinned below (the registry's own ``dist.integrity``), and copies the files the
pages load, with each package's licence, into ``book/_static/vendor/<package>@<version>/``.
A file over 1 MiB (the renderer, 4 MiB) is stored xz-compressed as ``<name>.xz`` to keep the
repository small; ``book/_ext/vendor_files.py`` unpacks it into the build. ``MANIFEST.json``
records the SHA-256 of every file as the pages load it, which ``tests/test_book.py`` checks.
The files are committed, so building the book needs neither npm nor a network; this tool is
for changing a version. (MathJax, for the equations, comes from the PyPI package
``sphinx-mathjax-offline`` at build time.)
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import lzma
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "_static" / "vendor"
COMPRESS_ABOVE = 1 << 20  # bytes: larger files are stored as <name>.xz

# package spec -> (the registry's sha512 integrity, the files to ship, as globs in the package)
PACKAGES = {
    "requirejs@2.3.7": (
        "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
        ["require.js", "package.json"],  # MIT: the licence is in require.js's header
    ),
    "@jupyter-widgets/html-manager@1.0.13": (
        "sha512-NxJezzmgD+4aqYyEODuTtrNC6L7mA9JYPo5FOO0pWSkrLXgsadl342fdcCN5f0ZuI/OdzmRvz3QKxgk+vr0/7A==",
        # the renderer and the icon fonts it asks for (woff2, woff: what browsers of today use)
        ["LICENSE", "package.json", "dist/embed-amd.js", "dist/*.woff2", "dist/*.woff"],
    ),
}


def integrity(archive: Path) -> str:
    digest = hashlib.sha512(archive.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def fetch(spec: str, expected: str, patterns: list[str], work: Path) -> dict[str, str]:
    """Unpack ``spec`` from the registry, check it, copy ``patterns`` into the vendor folder;
    return {path under vendor, as the pages load it: sha256}."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the web assets: install Node.js")
    packed = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", str(work)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    archive = work / packed.stdout.strip().splitlines()[-1]
    found = integrity(archive)
    if found != expected:
        raise SystemExit(f"{spec}: the registry's archive has integrity {found}, not the pinned "
                         f"{expected}; check the release before changing the pin")  # fmt: skip
    target = VENDOR / spec
    shutil.rmtree(target, ignore_errors=True)
    files = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and any(fnmatch.fnmatch(name, p) for p in patterns):
                content = tar.extractfile(member).read()
                files[f"{spec}/{name}"] = hashlib.sha256(content).hexdigest()
                destination = target / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                if len(content) > COMPRESS_ABOVE:
                    destination = destination.with_name(destination.name + ".xz")
                    content = lzma.compress(content, preset=9)
                destination.write_bytes(content)
    missing = [p for p in patterns if not any(fnmatch.fnmatch(f, f"{spec}/{p}") for f in files)]
    if missing:
        raise SystemExit(f"{spec} has no file matching {missing}")
    return files


def main() -> int:
    manifest = {"packages": {spec: pin for spec, (pin, _) in PACKAGES.items()}, "files": {}}
    with tempfile.TemporaryDirectory() as work:
        for spec, (pin, patterns) in PACKAGES.items():
            manifest["files"].update(fetch(spec, pin, patterns, Path(work)))
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest['files'])} files in {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
