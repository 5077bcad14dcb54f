"""Point the book at another repository (a fork): one command, one address.

    python tools/set_repository.py https://github.com/you/roiattn

The address lives in ``_config.yml`` (``repository.url``), which the Colab launch buttons, the
repository and issue buttons follow. The Colab install cell of every chapter must carry it too
(a notebook opened alone in Colab cannot read ``_config.yml``), so this rewrites both;
``tests/test_colab.py`` fails when they disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r'REPOSITORY = "[^"]*"')


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", argv[0]):
        print(__doc__)
        return 2
    url = argv[0]
    config = ROOT / "_config.yml"
    text = config.read_text()
    text, count = re.subn(r"(?m)^(  url: ).*$", rf"\g<1>{url}", text, count=1)
    if count != 1:
        print(f"no repository url line in {config}")
        return 1
    config.write_text(text)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        install = next(cell for cell in notebook.cells if cell.cell_type == "code")
        install.source = PATTERN.sub(f'REPOSITORY = "{url}"', install.source)
        nbformat.write(notebook, path)
    print(f"the book now points at {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
