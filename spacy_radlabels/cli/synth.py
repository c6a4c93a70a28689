"""`radlabels synth`: generate a synthetic corpus (train, dev, held-out-template test)."""

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import fail

EPILOG = """Examples:

  python -m spacy_radlabels synth assets/schemas/head_ct.yml corpus --n 20000 --seed 0

  spacy radlabels synth assets/schemas/head_ct.yml corpus --n 5000 --n-heldout 500 \\
    --dev-fraction 0.2

  python -m spacy_radlabels synth assets/schemas/head_ct.yml corpus \\
    --real corpus/real.spacy --real-ratio 0.3

Writes OUTPUT_DIR/train.spacy, dev.spacy and test_heldout.spacy (gold in doc._.labels),
a .jsonl twin of each ({"id", "text", "labels"} per line) and meta.json (sizes and the
train set's label/state counts). --short-ratio sets the share of short items (impressions,
sentences, fragments, label-free text); test_heldout's come from held-out templates only.
--carrier-ratio sets the share of carrier items: one finding among random neutral words.
"""

HELP = (
    "Generate synthetic reports with exact gold labels from a schema and its templates.\n\n"
    "train and dev use the seen templates; test_heldout uses only held-out carrier "
    "phrasings and variants, so it measures generalisation to unseen wording. The same "
    "seed gives byte-identical files."
)


@app.command("synth", help=HELP, epilog=EPILOG)
def synth_cli(
    schema_path: Path = typer.Argument(
        ..., help="Schema YAML file. Example: assets/schemas/head_ct.yml"
    ),
    output_dir: Path = typer.Argument(
        ..., help="Folder for the .spacy/.jsonl files (created). Example: corpus"
    ),
    n: int = typer.Option(
        20000, "--n", min=1, help="Synthetic reports in train + dev. Example: --n 20000"
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed. Example: --seed 1"),
    dev_fraction: float = typer.Option(
        0.1,
        "--dev-fraction",
        min=0.0,
        max=0.99,
        help="Share of the --n reports (and of --real reports) put in dev. "
        "Example: --dev-fraction 0.1",
    ),
    n_heldout: int = typer.Option(
        1000, "--n-heldout", min=0, help="Reports in test_heldout. Example: --n-heldout 2000"
    ),
    templates_path: Optional[Path] = typer.Option(
        None,
        "--templates",
        help="Template YAML file; by default the one the schema's 'templates:' key names. "
        "Example: --templates assets/templates/head_ct.yml",
    ),
    real: Optional[Path] = typer.Option(
        None,
        "--real",
        help="Your annotated reports as .spacy (from `python -m spacy_radlabels convert`) "
        "to mix into train (and dev). Example: --real corpus/real.spacy",
    ),
    real_ratio: float = typer.Option(
        0.3,
        "--real-ratio",
        min=0.0,
        max=0.95,
        help="With --real: share of real reports in the mixed train set; real reports are "
        "repeated when there are too few. Example: --real-ratio 0.3",
    ),
    lang: str = typer.Option("en", "--lang", help="Tokenizer language. Example: --lang en"),
    short_ratio: float = typer.Option(
        0.1,
        "--short-ratio",
        min=0.0,
        max=1.0,
        help="Share of synthetic items that are short text (impression-only reports, single "
        "sentences, fragments such as 'No bleed.', text naming no label) instead of whole "
        "reports. 0 writes whole reports only. Example: --short-ratio 0.1",
    ),
    carrier_ratio: float = typer.Option(
        0.0,
        "--carrier-ratio",
        min=0.0,
        max=1.0,
        help="Share of synthetic items that state one finding among random neutral words, "
        "negated or hedged only by a template cue, so the frame words say nothing of the "
        "state. Example: --carrier-ratio 0.1",
    ),
) -> None:
    """Generate train/dev/test_heldout corpora from a schema and templates."""
    from ..io import InputError
    from ..schema import SchemaError, load_schema
    from ..synth import TemplateError, load_templates, write_corpus
    from ..synth.corpus import RealCorpusError

    try:
        schema = load_schema(schema_path)
        templates_file = templates_path or schema.templates
        if templates_file is None:
            fail(
                f"{schema_path}: the schema names no templates. Pass --templates PATH or add "
                "'templates: ../templates/NAME.yml' to the schema file."
            )
        templates = load_templates(templates_file, schema)
        meta = write_corpus(
            schema,
            templates,
            output_dir,
            n=n,
            seed=seed,
            dev_fraction=dev_fraction,
            n_heldout=n_heldout,
            real=real,
            real_ratio=real_ratio,
            lang=lang,
            short_ratio=short_ratio,
            carrier_ratio=carrier_ratio,
        )
    except (SchemaError, TemplateError, RealCorpusError, InputError, OSError) as err:
        fail(str(err))
    sizes = meta["sizes"]
    typer.echo(
        f"✔ Wrote {sizes['train']} train, {sizes['dev']} dev and "
        f"{sizes['test_heldout']} test_heldout reports -> {output_dir}"
    )
    if meta["train_cases"]["train"]:
        typer.echo(
            f"  hand-written training cases: {meta['train_cases']['train']} in train (with "
            f"repeats), {meta['train_cases']['dev']} in dev"
        )
    if real is not None:
        typer.echo(
            f"  real reports: {meta['real']['train']} in train (with repeats), "
            f"{meta['real']['dev']} in dev"
        )
