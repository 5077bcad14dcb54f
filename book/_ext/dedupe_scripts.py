"""Drop repeated scripts from each page.

With Sphinx 7.4, the inline scripts that sphinx-thebe and sphinx-togglebutton register while the
sources are read end up in a page twice (once with filename None, once with ''); the second
``const THEBE_JS_URL`` then throws a SyntaxError in every reader's browser console. Keeping the
first copy of each script fixes that.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), repr(getattr(script, "attributes", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
