"""Serve the Colab badge from the book itself.

Each chapter's notebook shows Colab's own badge image, from colab.research.google.com, as
notebooks on GitHub and in Colab do (``tools/set_repository.py`` writes it). On the built pages
that image would be a broken picture for a reader without a network, so the pages show the
copy in ``book/_static`` instead; the link is unchanged.
"""

from docutils import nodes

REMOTE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL = "_static/colab-badge.svg"


def _localise(app, doctree, docname):
    for image in doctree.findall(nodes.image):
        if image.get("uri") == REMOTE:
            image["uri"] = "../" * docname.count("/") + LOCAL


def setup(app):
    app.connect("doctree-resolved", _localise)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
