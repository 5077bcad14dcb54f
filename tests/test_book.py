"""The book: it builds with Jupyter Book 1.x, warnings as errors, and its pages work in a real
headless Chromium (no console errors, figures decoded, equations typeset, widgets rendered, Colab
links right) that has no network: everything a page loads comes with the book."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from test_chapters import shows_a_widget

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_PATHS = "book/_static/widget-paths.js"


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the book from the working tree into a fresh folder (executing every notebook)."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "--path-output", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    return out / "_build" / "html"


def test_every_toc_entry_exists_and_every_notebook_is_in_the_toc():
    files = toc_files()
    for name in files:
        assert (ROOT / f"{name}.md").exists() or (ROOT / f"{name}.ipynb").exists(), name
    for notebook in NOTEBOOKS:
        assert f"notebooks/{notebook.stem}" in files, f"{notebook.name} is not in _toc.yml"


def test_the_book_builds_without_warnings(built_book):
    for name in toc_files():
        assert (built_book / f"{name}.html").exists(), name


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="session")
def browser():
    paths = chromium_paths()
    if paths is None:
        message = "Chromium not found: apt-get install chromium chromium-driver"
        if os.environ.get("ROIATTN_REQUIRE_BROWSER"):
            pytest.fail(message + " (ROIATTN_REQUIRE_BROWSER is set)")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2000",
        # no network but this machine: a page that needs a CDN fails here as it would offline
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def site(built_book):
    """The built book served on 127.0.0.1, as a reader's browser would get it."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def local_errors(driver) -> list[str]:
    """The console's errors since the last call (the browser has no network: a resource that
    is not part of the build shows up here)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("page", toc_files())
def test_every_page_loads_cleanly_in_a_browser(browser, site, page):
    browser.get(f"{site}/{page}.html")
    title = browser.execute_script("return document.querySelector('article h1')?.textContent")
    assert title and title.strip(), f"{page} has no title"
    broken = browser.execute_script(
        "return [...document.images]"
        ".filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"
    )
    assert broken == [], f"images not decoded on {page}: {broken}"
    errors = local_errors(browser)
    assert errors == [], "\n".join([page, *errors])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_pages_have_figures_and_a_colab_link_to_their_notebook(browser, site, notebook):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    browser.get(f"{site}/notebooks/{notebook.stem}.html")
    links = browser.execute_script(
        "return [...document.querySelectorAll('a')].map(a => a.href)"
        ".filter(h => h.includes('colab.research.google.com'))"
    )
    expected = (
        f"https://colab.research.google.com/github/{repo}/blob/"
        f"{config['repository']['branch']}/notebooks/{notebook.name}"
    )
    assert expected in links, links
    figures = browser.execute_script(
        "return [...document.querySelectorAll('.cell_output img')]"
        ".filter(img => img.complete && img.naturalWidth > 0).length"
    )
    assert figures >= 1, f"{notebook.stem} shows no decoded figure"


TABLE_NOTEBOOKS = [
    notebook
    for notebook in NOTEBOOKS
    if any(
        "| --- |" in "".join(output.get("data", {}).get("text/markdown", ""))
        for cell in json.loads(notebook.read_text())["cells"]
        for output in cell.get("outputs", [])
    )
]


def test_some_chapters_display_markdown_tables():
    assert len(TABLE_NOTEBOOKS) >= 2, "chapters 5 and 6 display their results as Markdown tables"


@pytest.mark.parametrize("notebook", TABLE_NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_tables_in_outputs_render_as_tables(browser, site, notebook):
    browser.get(f"{site}/notebooks/{notebook.stem}.html")
    tables = browser.execute_script("return document.querySelectorAll('.cell_output table').length")
    assert tables >= 1, f"{notebook.stem}: the Markdown tables of its outputs show as plain text"


WIDGET_NOTEBOOKS = [notebook for notebook in NOTEBOOKS if shows_a_widget(notebook)]


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_widgets_render_in_the_static_page(browser, site, notebook):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site}/notebooks/{notebook.stem}.html")
    views = browser.execute_script(
        "return document.querySelectorAll("
        "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
    )
    assert views >= 1, "the page carries no widget view"
    rendered = WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script(
            "return document.querySelectorAll('.jupyter-widgets.widget-container, "
            ".jupyter-widgets .widget-slider, .jupyter-widgets .widget-dropdown').length"
        )
    )
    assert rendered >= 1
    assert local_errors(browser) == []


EQUATION_NOTEBOOKS = [
    notebook
    for notebook in NOTEBOOKS
    if any(
        "$" in "".join(cell["source"]) or "\\(" in "".join(cell["source"])
        for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "markdown"
    )
]


@pytest.mark.parametrize("notebook", EQUATION_NOTEBOOKS, ids=lambda p: p.stem)
def test_pages_opened_from_the_build_folder_offline_typeset_equations_and_widgets(
    browser, built_book, notebook
):
    """A reader without a network opens ``_build/html`` straight from disk (``file://``):
    MathJax and the widget renderer come from the build itself, so every equation is typeset
    (none is left as raw TeX) and saved widgets render."""
    from selenium.webdriver.support.ui import WebDriverWait

    local_errors(browser)  # forget what earlier pages logged
    browser.get((built_book / "notebooks" / f"{notebook.stem}.html").as_uri())
    count = "return document.querySelectorAll('article span.math, article div.math').length"
    typeset = "return document.querySelectorAll('article mjx-container').length"
    equations = browser.execute_script(count)
    assert equations >= 1, f"{notebook.stem}: no equation on the page"
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(typeset) >= equations)
    raw = browser.execute_script(
        "return [...document.querySelectorAll('article span.math, article div.math')]"
        ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent).slice(0, 3)"
    )
    assert raw == [], f"{notebook.stem}: equations left as TeX: {raw}"
    if notebook in WIDGET_NOTEBOOKS:
        widgets = "return document.querySelectorAll('.jupyter-widgets.widget-container').length"
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(widgets) >= 1)
    assert local_errors(browser) == []


def test_the_shipped_web_assets_are_the_pinned_registry_files():
    """book/_static/vendor holds exactly what tools/vendor_web_assets.py took from the npm
    registry (checked there against the pinned integrity), and the book's configuration loads
    those versions."""
    import hashlib
    import lzma

    vendor = ROOT / "book" / "_static" / "vendor"
    manifest = json.loads((vendor / "MANIFEST.json").read_text())
    for name, digest in manifest["files"].items():
        packed = vendor / f"{name}.xz"  # a large file is stored compressed
        if packed.exists():
            content = lzma.decompress(packed.read_bytes())
        else:
            content = (vendor / name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == digest, name
    config = "".join((ROOT / name).read_text() for name in ("_config.yml", WIDGET_PATHS))
    for spec in manifest["packages"]:
        assert f"vendor/{spec}" in config, f"{spec} is shipped but the pages do not load it"
    scripts = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"][
        "nb_ipywidgets_js"
    ]
    assert [script for script in scripts if "://" in script] == [], "a script from the network"
