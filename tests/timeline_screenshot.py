"""Regenerate docs/timeline.png (`make screenshot`): a real run of examples/weather, its
`kite timeline` opened in headless Chromium with the pointer over one attempt.

    python -m tests.timeline_screenshot docs/timeline.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests import browser
from tests.helpers import kite

EXAMPLE = Path(__file__).parent.parent / "examples" / "weather"
OUTPUTS = ("clean", "daily", "monthly", "report")
WIDTH = 1240


def run_example(folder: Path) -> Path:
    """A fresh copy of the example in `folder`, applied; the timeline file of its run."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".kite", "kite.lock"))
    for name in OUTPUTS:
        shutil.rmtree(folder / "data" / name, ignore_errors=True)
    for args in (("apply", "--parallel", "3"), ("timeline", "-o", "timeline.html")):
        done = kite(*args, cwd=folder)
        if done.code != 0:
            raise SystemExit(f"kite {' '.join(args)} failed: {done.stderr}")
    return folder / "timeline.html"


def main(target: Path) -> None:
    reason = browser.missing()
    if reason is not None:
        raise SystemExit(f"cannot take the screenshot: {reason}")
    with tempfile.TemporaryDirectory(prefix="kite-screenshot-") as scratch:
        page_file = run_example(Path(scratch) / "weather")
        chromium = browser.Browser.start()
        try:
            page = chromium.page(page_file.as_uri(), width=WIDTH)
            x, y = page.evaluate(
                "(() => { const b = document.querySelectorAll('g[data-stage=daily] .bar')[5]; "
                "const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + 4]; })()"
            )
            page.hover(x, y)
            page.screenshot(target, WIDTH)
        finally:
            chromium.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/timeline.png"))
