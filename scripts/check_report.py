"""Open a run's report.html in headless Chromium: screenshot, DOM, and proof that every image loaded.

    python scripts/check_report.py RUN_DIR [--out DIR] [--expect TEXT ...]

The page must open with its summary: by default the rendered text must contain "Summary", "pass@1"
and "Data funnel" (each --expect adds one).

Debian's `chromium` (apt-get install -y chromium). The page is opened from a copy with a short
script appended that, once the page has loaded, counts the images the browser decoded
(`complete` and `naturalWidth > 0`) into an attribute of <body>; `--dump-dom` prints the DOM after
load, so the count comes from the browser itself. Network is off (`--host-resolver-rules`), so a
page that needed the network would show missing images. Exit 1 with the reason on any failure.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROBE = """<script>window.addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});</script>"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    sys.exit("no chromium on PATH; expected Debian's `chromium` (apt-get install -y chromium)")


def check(run_dir: Path, out: Path, expect: list[str]) -> list[str]:
    """Screenshot and DOM of the report into `out`; returns the problems found (none: it passed)."""
    page = run_dir / "report.html"
    html = page.read_text(encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    probe = out / "report-probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    browser = chromium()
    shot = subprocess.run([browser, *CHROMIUM_FLAGS, "--window-size=1200,5200", f"--screenshot={out / 'report.png'}",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    # What a reader sees first, on a laptop's screen: the summary should be all of it.
    first = subprocess.run([browser, *CHROMIUM_FLAGS, "--window-size=1280,900", f"--screenshot={out / 'report-first-screen.png'}",
                            page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, "--dump-dom", probe.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    (out / "report-dom.html").write_text(dom.stdout, encoding="utf-8")
    problems = []
    for done, name in ((shot, "report.png"), (first, "report-first-screen.png")):
        if done.returncode != 0 or not (out / name).is_file():
            problems.append(f"screenshot {name} failed: {done.stderr[-500:]}")
    counted = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    if counted is None:
        problems.append(f"no image count in the DOM (did the page load?): {dom.stderr[-500:]}")
    elif counted.group(1) != counted.group(2) or counted.group(2) == "0":
        problems.append(f"images loaded: {counted.group(1)} of {counted.group(2)}")
    if re.search(r'(src|href)="https?://', html):
        problems.append("the page refers to the network")
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    problems += [f"text missing from the page: {wanted!r}" for wanted in expect if wanted not in text]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="Where the screenshot and DOM go (default RUN_DIR/browser-check).")
    parser.add_argument("--expect", action="append", default=[], help="Text the rendered page must contain (repeatable).")
    args = parser.parse_args()
    out = args.out or args.run_dir / "browser-check"
    problems = check(args.run_dir, out, ["Summary", "pass@1", "Data funnel", *args.expect])
    for problem in problems:
        print(f"FAIL: {problem}")
    print(f"screenshots {out / 'report.png'} (the page), {out / 'report-first-screen.png'} (1280x900); "
          f"DOM {out / 'report-dom.html'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
