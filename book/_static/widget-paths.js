// The widget renderer finds its fonts relative to where require.js thinks it lives: point that
// at the copy shipped beside this file (book/_static/vendor, tools/vendor_web_assets.py), so the
// pages need no network.
(function () {
  const here = document.currentScript.src.replace(/[^/]*$/, "");
  require.config({
    paths: {
      "@jupyter-widgets/html-manager": here + "vendor/@jupyter-widgets/html-manager@1.0.13",
    },
  });
})();
