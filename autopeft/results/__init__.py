"""A study read back: ``SearchResult`` (``result``), the wording the views share (``wording``),
console tables (``console``), the HTML report (``html``) with its figure data, plotly figures and
PNGs, and the trackers (``tracking``). Nothing here trains."""
