"""Tables for every experiment's terminal output and report.md: rows of cells in, text or Markdown out.

An experiment builds its rows once (a header row, then data rows, all strings); ``text_table`` and
``markdown_table`` render the same rows, so no formatter ever parses another's output.
"""

from __future__ import annotations


def pm(stats: dict, scale: float = 100) -> str:
    """'mean ± std' of a describe() result, in percent by default."""
    return f"{stats['mean'] * scale:.2f} ± {stats['std'] * scale:.2f}"


def signed(difference: dict | None, scale: float = 100) -> str:
    """'+mean [lo, hi]' of a paired_difference() result, in points by default ('-' for none)."""
    if difference is None:
        return "-"
    ci = f" [{scale * difference['ci95'][0]:+.2f}, {scale * difference['ci95'][1]:+.2f}]" if difference["ci95"] else ""
    return f"{scale * difference['mean']:+.2f}{ci}"


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def markdown_table(rows: list[tuple[str, ...]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return lines + ["| " + " | ".join(r) + " |" for r in rows[1:]]
