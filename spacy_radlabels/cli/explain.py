"""`radlabels explain`: an HTML page of reports with each finding's attention shading."""

from itertools import islice
from pathlib import Path
from typing import Optional

import typer

from ..batch import iter_reports
from ..display import render
from ..io import InputError
from ..loading import load_pipeline
from . import app
from ._common import GPU_ID_HELP, ID_KEY_HELP, MODEL_HELP, TEXT_KEY_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels explain model-best "No bleed. Possible infarct." --output page.html

  spacy radlabels explain model-best --input reports.jsonl --limit 20 --output page.html
"""

HELP = (
    "Write a self-contained HTML page showing why each report got its labels.\n\nFor every "
    "label that is not negative, the page shows its state, its probability and the report "
    "with tokens shaded by that label's attention (darker = more weight)."
)


@app.command("explain", help=HELP, epilog=EPILOG)
def explain_cli(
    model: str = typer.Argument(..., help=MODEL_HELP),
    text: Optional[str] = typer.Argument(
        None, help="A report to explain; leave out and use --input for a file of reports."
    ),
    input_path: Optional[Path] = typer.Option(
        None,
        "--input",
        "-i",
        help="Reports to explain: .csv, .jsonl, a .txt file or a folder of .txt files. "
        "Example: --input reports.jsonl",
    ),
    output_path: Path = typer.Option(
        ..., "--output", "-o", help="The HTML page to write. Example: --output page.html"
    ),
    limit: int = typer.Option(
        100, "--limit", min=1, help="Explain at most this many reports. Example: --limit 20"
    ),
    text_key: str = typer.Option("text", "--text-column", "--text-key", help=TEXT_KEY_HELP),
    id_key: str = typer.Option("id", "--id-column", "--id-key", help=ID_KEY_HELP),
    gpu_id: int = typer.Option(-1, "--gpu-id", help=GPU_ID_HELP),
) -> None:
    """Write a self-contained HTML page showing why each report got its labels."""
    if (text is None) == (input_path is None):
        fail("Give either a report TEXT or --input FILE (not both).")
    try:
        nlp, _ = load_pipeline(model, gpu_id)
        if input_path is not None:
            reports = list(islice(iter_reports(input_path, text_key, id_key, None), limit))
            texts = [report_text for report_text, _ in reports]
            titles = [f"{record.id}" for _, record in reports]
        else:
            texts, titles = [text or ""], ["report"]
        docs = list(nlp.pipe(texts))
    except (InputError, OSError, ValueError) as err:
        fail(str(err))
    html = render(docs, page=True, jupyter=False, titles=titles)
    assert html is not None
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_text(html, encoding="utf-8")
    typer.echo(f"✔ Explained {len(docs)} reports -> {output_path}")
