"""How long a comment takes to render (Markdown, math, autolinks, sanitiser), on ordinary
and hostile bodies of the largest size a comment may have (``markdown.MAX_BODY``).

    PYTHONPATH=. .venv/bin/python bench/comment_render.py

Each body is rendered ``--repeat`` times; the best and median times are printed. A
comment is rendered when posted, edited and previewed (on each pause in typing), so a
slow body is CPU a member can make the server spend. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperboy.community.markdown import MAX_AUTOLINKS, MAX_BODY, render  # noqa: E402


def bodies() -> dict[str, str]:
    fill = MAX_BODY
    return {
        "prose": ("Does the bound hold for every guidance scale? See eq. 3 and the appendix. " * 300)[:fill],
        "prose with math and links": ("We get $O(n \\log n)$, see arXiv:2401.12345 and https://github.com/q/tool. "
                                      * 300)[:fill],
        "addresses, one after another": ("http://a.org/x " * 2000)[:fill],
        "addresses with an open bracket": ("http://a.org/(" * 2000)[:fill],
        f"{MAX_AUTOLINKS} addresses with a bracket, then text": ("http://a.org/(" * MAX_AUTOLINKS + "y " * fill)[:fill],
        "a host of 20,000 characters": ("http://" + "a." * fill)[:fill],
        "arXiv ids": ("arXiv:2401.12345 " * 2000)[:fill],
        "one formula of it all": ("$" + "a+b\\cdot c-" * 2000)[:fill - 1] + "$",
        "small formulas, one after another": ("$x$ " * 5000)[:fill],
        "dollars": ("$" * fill),
        "brackets": ("[" * (fill // 2) + "]" * (fill // 2)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'body (' + str(MAX_BODY) + ' characters at most)':48} {'best ms':>9} {'median ms':>10} {'links':>6}")
    for name, body in bodies().items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            html = render(body)
            times.append((time.perf_counter() - t) * 1000)
        print(f"{name:48} {min(times):9.1f} {statistics.median(times):10.1f} {html.count('<a '):6d}")


if __name__ == "__main__":
    main()
