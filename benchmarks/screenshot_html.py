"""Render the `explain` and `evaluate` HTML pages in headless Chromium and save PNGs.

Proves the pages open in a real browser with no network: Chromium runs with background
networking off and a throwaway profile.

    python benchmarks/screenshot_html.py training/model-best corpus/dev.jsonl --output shots
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

WINDOW = "1200,1600"


def find_chromium() -> Optional[str]:
    """Find a Chromium executable on the PATH.

    RETURNS (Optional[str]): Its path, or None.
    """
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(html_path: Path, *flags: str) -> str:
    """Open an HTML file in headless Chromium with a throwaway profile and no network.

    html_path (Path): The page.
    flags (str): What to do with it, e.g. "--dump-dom" or "--screenshot=out.png".
    RETURNS (str): What Chromium printed on stdout.
    """
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found; install it (apt-get install chromium).")
    with tempfile.TemporaryDirectory() as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={profile}", *flags, html_path.resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


def screenshot(html_path: Path, png_path: Path, window: str = WINDOW) -> Path:
    """Render an HTML file to a PNG with headless Chromium.

    html_path (Path): The page.
    png_path (Path): The screenshot to write.
    window (str): Window size "width,height".
    RETURNS (Path): The screenshot.
    """
    run_chromium(html_path, f"--screenshot={png_path}", f"--window-size={window}")
    if not png_path.exists():
        raise RuntimeError(f"Chromium wrote no screenshot for {html_path}.")
    return png_path


def dump_dom(html_path: Path) -> str:
    """Render an HTML file in headless Chromium and return the DOM it built.

    html_path (Path): The page.
    RETURNS (str): The rendered DOM as HTML, what a reader of the page is shown.
    """
    return run_chromium(html_path, "--dump-dom")


def main(argv: Optional[List[str]] = None) -> None:
    """Write explain and evaluate pages for a model and data, then screenshot them.

    argv (Optional[List[str]]): Command line arguments (default: sys.argv).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Trained pipeline directory or package name.")
    parser.add_argument("data", type=Path, help="Annotated .jsonl (or .spacy for evaluate).")
    parser.add_argument("--output", type=Path, default=Path("screenshots"))
    parser.add_argument("--limit", type=int, default=4, help="Reports on the explain page.")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "spacy_radlabels"]
    explain_page = args.output / "explain.html"
    subprocess.run(
        [*cli, "explain", args.model, "--input", str(args.data), "--limit", str(args.limit),
         "--output", str(explain_page)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*cli, "evaluate", args.model, str(args.data), "--output", str(args.output / "eval")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for page, png in [
        (explain_page, args.output / "explain.png"),
        (args.output / "eval" / "report.html", args.output / "evaluate.png"),
    ]:
        print(f"{page} -> {screenshot(page, png)}")


if __name__ == "__main__":
    main()
