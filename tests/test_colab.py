"""Colab as a reader meets it: every chapter has a Colab badge under its title and the same
install cell, both pointing at the book's repository and release (``v<roiattn.__version__>``,
the ref ``_config.yml`` launches), and the cell installs that release of roiattn next to a
preinstalled torch without reinstalling it."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest
import yaml

from roiattn.data import samples

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def install_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    return "".join(code[0]["source"])


def repository() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


def repository_url() -> str:
    return repository()["url"]


def test_the_book_launches_and_installs_the_packages_own_release():
    import roiattn

    assert repository()["branch"] == f"v{roiattn.__version__}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_same_install_cell(notebook):
    cell = install_cell(notebook)
    assert cell == install_cell(NOTEBOOKS[0])
    assert f'REPOSITORY = "{repository_url()}"' in cell
    release = repository()["branch"]
    assert f'RELEASE = "{release}"' in cell
    assert 'f"git+{REPOSITORY}@{RELEASE}"' in cell
    assert '"google.colab" in sys.modules' in cell


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_has_a_colab_badge_under_its_title(notebook):
    title = "".join(json.loads(notebook.read_text())["cells"][0]["source"]).splitlines()
    assert title[0].startswith("# ")
    repo = repository_url().removeprefix("https://github.com/")
    link = (
        f"https://colab.research.google.com/github/{repo}/blob/{repository()['branch']}/"
        f"notebooks/{notebook.name}"
    )
    assert title[2] == (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"
    )


def colab_like_environment(tmp_path: Path) -> Path:
    """A fresh venv that sees this environment's packages (torch, torchvision, ...) the way Colab
    has them preinstalled, but not roiattn; returns its python."""
    env_dir = tmp_path / "colab-venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    ours = Path(torch_location()).parent
    preinstalled = tmp_path / "preinstalled"
    preinstalled.mkdir()
    for entry in ours.iterdir():
        if "roiattn" not in entry.name and not entry.name.endswith(".pth"):
            (preinstalled / entry.name).symlink_to(entry)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "preinstalled.pth").write_text(f"{preinstalled}\n")
    # Colab's marker module
    colab = tmp_path / "fake-colab" / "google" / "colab"
    colab.mkdir(parents=True)
    (colab.parent / "__init__.py").write_text("")
    (colab / "__init__.py").write_text("")
    return python


def torch_location() -> str:
    import torch

    return str(Path(torch.__file__).parent)


def test_the_install_cell_installs_roiattn_beside_colabs_torch(tmp_path):
    if not NOTEBOOKS:
        pytest.skip("no chapters yet")
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # the release tag the cell installs, made here when this checkout has not been tagged yet
    release = repository()["branch"]
    subprocess.run(["git", "-C", str(clone), "tag", "-f", release, "HEAD"], check=True,
                   capture_output=True)  # fmt: skip
    python = colab_like_environment(tmp_path)
    cell = install_cell(NOTEBOOKS[0]).replace(repository_url(), clone.as_uri())
    # offline: every dependency is preinstalled, and roiattn builds with the setuptools at hand
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "fake-colab"),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    script = (
        "import sys, google.colab\n"
        + cell
        + "\nimport roiattn, torch"
        + "\nprint('roiattn', roiattn.__file__)\nprint('torch', torch.__file__)\n"
        # the package data a chapter opened alone needs: reference results, sample annotations
        + "names = roiattn.experiments.reference_names('coco')\n"
        + "print('references', ','.join(names))\n"
        + "print('methods', len(roiattn.experiments.reference_results(names[0]).methods))\n"
        + "import json\nfrom roiattn.data import samples\n"
        + "print('samples', len(json.loads(samples.SAMPLES_FILE.read_text())['images']))\n"
    )
    result = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["roiattn"].startswith(str(tmp_path / "colab-venv"))
    # Colab's torch, where it was: pip found it satisfied and installed no copy of its own
    assert lines["torch"].startswith(str(tmp_path / "preinstalled" / "torch"))
    assert not list((tmp_path / "colab-venv").glob("lib/python*/site-packages/torch"))
    # read from the installed package, in a folder that holds no repository
    assert lines["references"] == "coco-quick-48-epochs" and int(lines["methods"]) == 10
    assert int(lines["samples"]) == len(samples.SAMPLE_IMAGES)
