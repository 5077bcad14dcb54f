"""Point the book at a repository and at its release: one command, one address, one version.

    python tools/set_repository.py                                 # after changing the version
    python tools/set_repository.py https://github.com/you/roiattn  # a fork

The address lives in ``_config.yml`` (``repository.url``), which the Colab launch buttons, the
repository and issue buttons follow. The version lives in ``roiattn/__init__.py``
(``__version__``); its release tag ``v<version>`` is the ref the launch buttons open
(``repository.branch``). A notebook opened alone in Colab cannot read either file, so every
chapter carries both: its Colab badge under the title and its install cell, which installs that
release of roiattn, not whatever the main branch holds that day. This rewrites all of them;
``tests/test_colab.py`` fails when they disagree.

Releasing: change ``__version__``, run this without an address, commit, and tag the commit
``v<version>``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COLAB = "https://colab.research.google.com/github"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
BADGE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n\n?", re.M)


def release() -> str:
    """``v<version>``, read from the package's source (no import: the tool runs anywhere)."""
    text = (ROOT / "roiattn" / "__init__.py").read_text()
    return "v" + re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def badge(url: str, ref: str, notebook: str) -> str:
    """The Colab badge line of ``notebook`` (``notebooks/NN_name.ipynb``)."""
    path = f"{url.removeprefix('https://github.com/')}/blob/{ref}/{notebook}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({COLAB}/{path})\n\n"


def with_badge(title_cell: str, line: str) -> str:
    """The chapter's first cell with ``line`` right under its title (replacing an old one)."""
    title, rest = title_cell.split("\n", 1)
    return f"{title}\n\n{line}{BADGE.sub('', rest.lstrip(chr(10)))}"


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and not GITHUB.fullmatch(argv[0])):
        print(__doc__)
        return 2
    config = ROOT / "_config.yml"
    text = config.read_text()
    url = argv[0] if argv else re.search(r"(?m)^  url: (.*)$", text).group(1).strip()
    ref = release()
    text, urls = re.subn(r"(?m)^(  url: ).*$", rf"\g<1>{url}", text, count=1)
    text, refs = re.subn(r"(?m)^(  branch: ).*$", rf"\g<1>{ref}", text, count=1)
    if urls != 1 or refs != 1:
        print(f"{config} needs repository.url and repository.branch lines")
        return 1
    config.write_text(text)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        title = notebook.cells[0]
        title.source = with_badge(title.source, badge(url, ref, f"notebooks/{path.name}"))
        install = next(cell for cell in notebook.cells if cell.cell_type == "code")
        install.source = re.sub(r'REPOSITORY = "[^"]*"', f'REPOSITORY = "{url}"', install.source)
        install.source = re.sub(r'RELEASE = "[^"]*"', f'RELEASE = "{ref}"', install.source)
        nbformat.write(notebook, path)
    print(f"the book now points at {url}, release {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
