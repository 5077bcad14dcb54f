"""Unpack the web files the book ships compressed.

``tools/vendor_web_assets.py`` stores a vendored file over 1 MiB as ``<name>.xz`` (the widget
renderer: 4 MiB, 0.4 MiB so) to keep the repository small. The pages load ``<name>``: this
writes it into the build's ``_static/vendor`` before any page is written.
"""

import lzma
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "_static" / "vendor"


def _unpack(app):
    built = Path(app.outdir) / "_static" / "vendor"
    for packed in VENDOR.rglob("*.xz"):
        target = built / packed.relative_to(VENDOR).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lzma.decompress(packed.read_bytes()))


def setup(app):
    app.connect("builder-inited", _unpack)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
