"""Charts as inline SVG made on the server: no script, no CDN, readable by screen readers
(each chart has a title and the table it shows stays on the page)."""

from __future__ import annotations

from django.utils.dates import WEEKDAYS_ABBR
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD = 640, 220, 32


def bars(
    points: list[tuple[str, float | None]], *, title: str, unit: str = "", max_value: float | None = None
) -> SafeString:
    """Vertical bars, one per (label, value); empty values are gaps."""
    values = [value or 0 for _, value in points]
    top = max_value or max(values, default=0) or 1
    n = max(len(points), 1)
    slot = (WIDTH - 2 * PAD) / n
    bar_width = max(2.0, slot * 0.7)
    label_every = max(1, n // 12)
    parts = []
    for i, (label, value) in enumerate(points):
        height = (HEIGHT - 2 * PAD) * (value or 0) / top
        x = PAD + i * slot + (slot - bar_width) / 2
        y = HEIGHT - PAD - height
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {}{}</title></rect>',
                _n(x),
                _n(y),
                _n(bar_width),
                _n(height),
                label,
                "–" if value is None else value,
                unit,
            )
        )
        if i % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
                    _n(x + bar_width / 2),
                    HEIGHT - PAD + 14,
                    label,
                )
            )
    return _svg(title, SafeString("".join(parts)), f"{top:g}{unit}")


def heat_map(counts: dict[tuple[int, int], int], *, title: str) -> SafeString:
    """Contacts per weekday (rows, Monday first) × hour (columns); darker is more."""
    top = max(counts.values(), default=0) or 1
    cell_w, cell_h, left = (WIDTH - 60) / 24, 22, 50
    cells = []
    for weekday in range(1, 8):
        y = 10 + (weekday - 1) * cell_h
        cells.append(format_html('<text x="4" y="{}" class="axis">{}</text>', y + 15, WEEKDAYS_ABBR[weekday - 1]))
        for hour in range(24):
            value = counts.get((weekday, hour), 0)
            cells.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="heat" fill-opacity="{}">'
                    "<title>{} {}: {}</title></rect>",
                    _n(left + hour * cell_w),
                    y,
                    _n(cell_w - 1),
                    cell_h - 1,
                    f"{0.06 + 0.94 * value / top:.2f}",
                    WEEKDAYS_ABBR[weekday - 1],
                    f"{hour:02d}",
                    value,
                )
            )
    hours = format_html_join(
        "", '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
        ((_n(left + hour * cell_w + cell_w / 2), 10 + 7 * cell_h + 14, f"{hour:02d}") for hour in range(0, 24, 3)),
    )  # fmt: skip
    return _svg(title, SafeString("".join(cells) + hours), None, height=10 + 7 * cell_h + 24)


def _n(number: float) -> str:
    return f"{number:.1f}"


def _svg(title: str, body: SafeString, top_label: str | None, *, height: int = HEIGHT) -> SafeString:
    scale = format_html('<text x="4" y="{}" class="axis">{}</text>', PAD - 8, top_label) if top_label else ""
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}{}</svg>",
        WIDTH, height, title, title, scale, body,
    )  # fmt: skip
