// The widget renderer finds its fonts relative to where require.js thinks it lives: point that
// at the CDN, or every page with a widget asks this site for fonts it does not have.
require.config({
  paths: {
    "@jupyter-widgets/html-manager": "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.13",
  },
});
