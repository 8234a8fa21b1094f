#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Draws the comparison chart from compare.sh's CSV: an SVG with two panels, clients side by side.

usage: chart.py RESULTS.csv [OUT.svg]     (default OUT: RESULTS with .svg)

Left: messages per second on Postfix's smtp-sink (client and sink on one CPU). Right: round trips per
message on the delay sink and on the CHUNKING sink. Standard library only, so that it runs anywhere
the benchmark does.
"""
import csv
import sys
from xml.sax.saxutils import escape

NAMES = {
    "smtpc-bench-client": "smtpc",
    "bench-libesmtp-client": "libESMTP",
    "bench-libcurl-client": "libcurl",
    "bench-raw-client": "raw writer",
}
COLOURS = {"smtpc": "#1f77b4", "libESMTP": "#ff7f0e", "libcurl": "#2ca02c", "raw writer": "#7f7f7f"}


def panel(x0, title, unit, groups, width=420, height=260):
    """groups: [(group label, [(client, value)])] -> SVG elements."""
    out = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
           f"{escape(title)}</text>"]
    values = [v for _, bars in groups for _, v in bars if v is not None]
    top = max(values) * 1.15 if values else 1.0
    base = 40 + height
    out.append(f'<line x1="{x0 + 40}" y1="{base}" x2="{x0 + width}" y2="{base}" stroke="black"/>')
    slot = (width - 50) / max(1, len(groups))
    for gi, (label, bars) in enumerate(groups):
        bw = (slot - 20) / max(1, len(bars))
        gx = x0 + 50 + gi * slot
        for bi, (client, v) in enumerate(bars):
            if v is None:
                continue
            h = height * v / top
            x = gx + bi * bw
            out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS.get(client, "#999")}"><title>{escape(client)}: {v:g} {escape(unit)}'
                       f"</title></rect>")
            out.append(f'<text x="{x + (bw - 2) / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
                       f'font-size="10">{v:.3g}</text>')
        out.append(f'<text x="{gx + (slot - 20) / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                   f'font-size="11">{escape(label)}</text>')
    out.append(f'<text x="{x0 + 12}" y="{40 + height / 2}" font-size="11" '
               f'transform="rotate(-90 {x0 + 12} {40 + height / 2})" text-anchor="middle">{escape(unit)}</text>')
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) == 3 else src.rsplit(".", 1)[0] + ".svg"
    rows = list(csv.DictReader(open(src)))

    def value(row, key):
        try:
            return float(row[key]) if row["status"] == "0" and row[key] else None
        except ValueError:
            return None

    def bars(sink, key):
        return [(NAMES.get(r["client"], r["client"]), value(r, key)) for r in rows if r["sink"] == sink]

    size = next((r["size"] for r in rows if r["sink"] == "smtp-sink"), "?")
    left = panel(0, f"messages/s, {size}-byte messages, one connection", "messages/s",
                 [("smtp-sink", bars("smtp-sink", "msg_per_s"))])
    right = panel(460, "round trips per message", "round trips",
                  [("DATA", bars("delay-sink", "round_trips_per_message")),
                   ("CHUNKING offered", bars("chunking-sink", "round_trips_per_message"))])
    legend, lx = [], 60
    for name, colour in COLOURS.items():
        legend.append(f'<rect x="{lx}" y="335" width="12" height="12" fill="{colour}"/>'
                      f'<text x="{lx + 16}" y="345" font-size="11">{escape(name)}</text>')
        lx += 110
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="900" height="360" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>'] + left + right + legend + ["</svg>"]
    with open(dst, "w") as f:
        f.write("\n".join(svg) + "\n")
    print(dst)


if __name__ == "__main__":
    main()
