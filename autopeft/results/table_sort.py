"""The report's tables, which sort by a click on a column's header: their HTML, and the few
lines of plain JavaScript the page inlines to sort them (the report opens offline, so no library
from a CDN).

A column sorts as numbers where its cells read as numbers ("74,498", "1.00e-03", "+1.2%",
"0.7222 ± 0.0100 (n=3)" by its mean), else as text; a second click on the same header reverses
the order; an empty or "-" cell sorts last either way, as no value.
"""

from __future__ import annotations

import html

SORTABLE = "sortable"  # the class of a table the script sorts
LEFT_ALIGNED = {"method", "reason", "trial", "state"}  # columns of words; the others are numbers

SCRIPT = r"""
document.addEventListener('DOMContentLoaded', () => {
  const NUMBER = /^[+-]?(\d[\d,]*)?\.?\d+(e[+-]?\d+)?/i;
  const key = cell => {
    const text = cell.textContent.trim();
    if (text === '' || text === '-') return null;
    const number = text.match(NUMBER);
    return number ? parseFloat(number[0].replace(/,/g, '')) : text;
  };
  const compare = (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return a.localeCompare(b, undefined, {numeric: true});
  };
  document.querySelectorAll('table.sortable').forEach(table => {
    const headers = [...table.tHead.rows[0].cells];
    headers.forEach((header, column) => header.addEventListener('click', () => {
      const direction = header.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      headers.forEach(other => other.removeAttribute('aria-sort'));
      header.setAttribute('aria-sort', direction === 1 ? 'ascending' : 'descending');
      const body = table.tBodies[0];
      const rows = [...body.rows].map((row, index) => ({row, index, key: key(row.cells[column])}));
      rows.sort((a, b) => {
        if (a.key === null || b.key === null) return (a.key === null) - (b.key === null) || a.index - b.index;
        return direction * compare(a.key, b.key) || a.index - b.index;
      });
      rows.forEach(({row}) => body.appendChild(row));
    }));
  });
});
"""

STYLE = """
table.sortable th { cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
"""


def table_html(heading: str, columns: list[str], rows: list[list[str]]) -> str:
    """A heading and a sortable table: a header row, then one row per entry of ``rows``."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{'' if column in LEFT_ALIGNED else ' class=n'}>{html.escape(cell)}</td>"
            for column, cell in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<h2>{html.escape(heading)}</h2><table class="{SORTABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
