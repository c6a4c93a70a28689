"""Model cards for packaged pipelines, written into the meta.json that `spacy package` reads.

`spacy package --meta-path` builds a package's README from meta.json: `description`, a table
of name, version, sources, license and author, the label scheme, the `performance` scores,
then `notes`. The card fills these fields from what the workflow wrote: the corpus meta.json
of `synth`, the metrics of `evaluate` (and of the probe suite and the Open-i benchmark where
they exist), the schema and templates (hashed) and the pipeline's own config and meta. The
sections follow Mitchell et al., "Model Cards for Model Reporting" (2019).
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import srsly
from spacy.util import load_config

from . import __version__
from .io import checksum
from .report import fmt, markdown_table
from .schema import Schema, load_schema
from .synth.templates import included_files, train_cases_file

METRICS_FILE = "metrics.json"
# (metrics subfolder, name in the card, what the set is) for the sets `evaluate` scores.
EVALUATION_SETS: List[Tuple[str, str, str]] = [
    (
        "dev",
        "Synthetic dev",
        "synthetic reports from the training templates: the training distribution",
    ),
    (
        "test_heldout",
        "Held-out templates",
        "synthetic reports written only with phrasings and variants held out of training",
    ),
    (
        "dev_cases",
        "Hand-written dev cases",
        "reports written by hand from the same phenomena; unlike the hard cases, their "
        "errors were read while the templates were developed",
    ),
    (
        "hard_cases",
        "Hand-written hard cases",
        "reports written by hand with pseudo-negation, negation scope, hedges of different "
        "strength, questions in the clinical details and surface noise",
    ),
]
PROBE_SET = "probe"
OPENI_SET = "openi"
# How many confusions, labels and probe capabilities the failure modes list.
N_FAILURES = 5
# The radlabels token vectors of configs/trf-frozen.cfg: a transformer inside the component.
FROZEN_TRANSFORMER = "spacy-radlabels.FrozenTransformer.v1"
CUE_EMBED = "spacy-radlabels.CueMultiHashEmbed."
CARD_SECTIONS = [
    "Intended use",
    "Training data",
    "Evaluation",
    "Known failure modes",
    "Retrain on your own reports",
    "Provenance",
]


class CardError(ValueError):
    """An input the card cannot be written from; the message names the file and the fix."""


def read_json(path: Path) -> Dict[str, Any]:
    """Read a JSON object, with an error that names the file.

    path (Path): The file.
    RETURNS (Dict[str, Any]): Its content.
    """
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except ValueError as err:
        raise CardError(f"{path}: not valid JSON ({err}); write it again.") from None
    if not isinstance(data, dict):
        raise CardError(f"{path}: expected a JSON object, found {type(data).__name__}.")
    return data


def read_metrics(metrics_dir: Optional[Path]) -> Dict[str, Dict[str, Any]]:
    """Read the metrics files that exist under a metrics folder, e.g. metrics/cpu.

    metrics_dir (Optional[Path]): The folder with dev/, test_heldout/, hard_cases/, probe/
        and openi/ subfolders, each with a metrics.json; missing ones are left out.
    RETURNS (Dict[str, Dict[str, Any]]): Subfolder name -> metrics.
    """
    if metrics_dir is None:
        return {}
    if not metrics_dir.is_dir():
        raise CardError(f"{metrics_dir}: no such metrics folder; run `evaluate` first.")
    names = [name for name, _, _ in EVALUATION_SETS] + [PROBE_SET, OPENI_SET]
    paths = {name: metrics_dir / name / METRICS_FILE for name in names}
    return {name: read_json(path) for name, path in paths.items() if path.exists()}


def radlabels_component(config: Dict[str, Any], model_dir: Path) -> str:
    """Find the name of a pipeline's `radlabels` component in its config.

    config (Dict[str, Any]): The pipeline's config.
    model_dir (Path): The pipeline directory, for the message.
    RETURNS (str): The component name.
    """
    for name in config["nlp"]["pipeline"]:
        if config["components"].get(name, {}).get("factory") == "radlabels":
            return name
    raise CardError(f"{model_dir}: the pipeline has no radlabels component.")


def embeds(config: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Find the embedding layer of each component that has one: a tok2vec, or radlabels'
    inline tok2vec (a listener has none).

    config (Dict[str, Any]): The pipeline's interpolated config.
    RETURNS (Dict[str, Dict[str, Any]]): Component name -> its embed's config.
    """
    found = {}
    for name in config["nlp"]["pipeline"]:
        model = config["components"][name].get("model", {})
        embed = model.get("embed") or model.get("tok2vec", {}).get("embed")
        if embed:
            found[name] = embed
    return found


def transformers(config: Dict[str, Any]) -> Dict[str, str]:
    """Find a pipeline's transformer components and the models they load.

    config (Dict[str, Any]): The pipeline's interpolated config.
    RETURNS (Dict[str, str]): Component name -> model name or path.
    """
    found = {}
    embeds_by_name = embeds(config)
    for name in config["nlp"]["pipeline"]:
        component = config["components"][name]
        embed = embeds_by_name.get(name, {})
        if component.get("factory") == "transformer":
            model_name = component["model"]["name"]
            # spacy-radlabels.transformer_name.v1 wraps the name; spaCy's own takes a string.
            found[name] = model_name.get("name") if isinstance(model_name, dict) else model_name
        elif component.get("factory") == "radlabels" and (
            embed.get("@architectures") == FROZEN_TRANSFORMER
        ):
            found[name] = embed["name"]
    return found


def token_vectors(config: Dict[str, Any], meta: Dict[str, Any]) -> str:
    """Say what gives the pipeline its token vectors: a transformer, static vectors, hashing.

    config (Dict[str, Any]): The pipeline's interpolated config.
    meta (Dict[str, Any]): The pipeline's meta.
    RETURNS (str): A Markdown phrase.
    """
    transformer = next(iter(transformers(config).items()), None)
    if transformer is not None:
        name, model_name = transformer
        frozen = name in config["training"].get("frozen_components", []) or (
            config["components"][name].get("factory") == "radlabels"
        )
        state = "frozen" if frozen else "fine-tuned with the labeller"
        return f"the transformer `{model_name}` ({state})"
    vectors = meta.get("vectors", {})
    phrase = "spaCy's tok2vec (hash embeddings and a CNN), trained from scratch"
    if vectors.get("width"):
        phrase += (
            f", with the static vectors `{vectors.get('name')}` ({vectors.get('vectors')} "
            f"vectors of {vectors['width']} dimensions)"
        )
    cue_versions = [
        embed["@architectures"][len(CUE_EMBED) + 1 :]
        for embed in embeds(config).values()
        if embed.get("@architectures", "").startswith(CUE_EMBED)
    ]
    if cue_versions:
        phrase += (
            ", with negation and uncertainty cue features (`spacy_radlabels.cues`, lexicon "
            f"version {cue_versions[0]})"
        )
    if config.get("initialize", {}).get("init_tok2vec"):
        phrase += f", its weights initialised from `{config['initialize']['init_tok2vec']}`"
    return phrase


def check_labels(schema: Schema, labels: List[str], model_dir: Path) -> None:
    """Check that the schema the card names is the one the pipeline was trained with.

    schema (Schema): The schema.
    labels (List[str]): The pipeline's labels.
    model_dir (Path): The pipeline directory, for the message.
    """
    if sorted(schema.labels) != sorted(labels):
        missing = sorted(set(schema.labels) - set(labels))
        extra = sorted(set(labels) - set(schema.labels))
        raise CardError(
            f"{model_dir} was not trained with {schema.path}: labels only in the schema "
            f"{missing}, only in the pipeline {extra}. Give the schema it was trained with."
        )


def build_card_meta(
    model_dir: Path,
    corpus_dir: Path,
    schema_path: Path,
    metrics_dir: Optional[Path] = None,
    *,
    name: Optional[str] = None,
    version: Optional[str] = None,
    author: str = "",
    email: str = "",
    url: str = "",
    license: str = "",
) -> Dict[str, Any]:
    """Build a pipeline's meta.json with its model card, for `spacy package --meta-path`.

    model_dir (Path): The trained pipeline directory (e.g. training/cpu/model-best).
    corpus_dir (Path): The folder `synth` wrote the training corpus and its meta.json to.
    schema_path (Path): The schema the corpus was generated from (its templates are hashed
        too).
    metrics_dir (Optional[Path]): The folder of the pipeline's metrics (see `read_metrics`).
    name (Optional[str]): Package name, e.g. "radlabels_headct"; default: the pipeline's.
    version (Optional[str]): Package version; default: the pipeline's.
    author (str): Author, for meta.json and the README.
    email (str): Author email.
    url (str): Author or project URL.
    license (str): License of the packaged pipeline.
    RETURNS (Dict[str, Any]): The meta: the pipeline's, with the card's fields.
    """
    hints = {
        model_dir / "meta.json": "give a trained pipeline directory",
        corpus_dir / "meta.json": "give the folder `synth` wrote train.spacy and meta.json to",
    }
    for path, hint in hints.items():
        if not path.exists():
            raise CardError(f"{path}: not found; {hint}.")
    meta = read_json(model_dir / "meta.json")
    corpus = read_json(corpus_dir / "meta.json")
    schema = load_schema(schema_path)
    if corpus.get("schema") != schema.name:
        raise CardError(
            f"{corpus_dir / 'meta.json'}: the corpus was generated from the schema "
            f"'{corpus.get('schema')}', not '{schema.name}' ({schema_path}). Give its schema."
        )
    config = load_config(model_dir / "config.cfg", interpolate=True)
    component = radlabels_component(config, model_dir)
    check_labels(schema, meta.get("labels", {}).get(component, []), model_dir)
    metrics = read_metrics(metrics_dir)
    provenance = {
        "version": __version__,
        "schema": {
            "name": schema.name,
            "file": schema_path.name,
            "sha256": checksum(schema_path),
        },
        "templates": None,
        "corpus": {key: corpus.get(key) for key in ("seed", "sizes", "train_cases", "real")},
        "metrics": sorted(metrics),
    }
    if schema.templates is not None and schema.templates.exists():
        provenance["templates"] = template_provenance(schema.templates)
    encoder = token_vectors(config, meta)
    meta.update(name=name or meta["name"], version=version or meta["version"])
    meta.update(
        description=describe(schema, n_real(corpus), n_cases(corpus)),
        author=author,
        email=email,
        url=url,
        license=license,
        sources=sources(schema, corpus, config),
        performance={
            key: value
            for key, value in meta.get("performance", {}).items()
            if not key.endswith("_loss")
        },
        notes=card_notes(schema, corpus, provenance, encoder, metrics, meta),
        radlabels=provenance,
    )
    return meta


def n_real(corpus: Dict[str, Any]) -> int:
    """Count the real reports mixed into a corpus (`synth --real`).

    corpus (Dict[str, Any]): The corpus meta.json of `synth`.
    RETURNS (int): Real reports in train and dev.
    """
    real = corpus.get("real") or {}
    return real.get("train", 0) + real.get("dev", 0)


def n_cases(corpus: Dict[str, Any]) -> int:
    """Count the hand-written training cases a corpus holds (the templates' `train_cases`).

    corpus (Dict[str, Any]): The corpus meta.json of `synth`.
    RETURNS (int): Distinct cases, in train and dev.
    """
    return (corpus.get("train_cases") or {}).get("cases", 0)


def trained_on(real: int, cases: int) -> str:
    """Name the training data: "synthetic reports only", or what else was mixed in."""
    mixed = [f"{n} {kind}" for n, kind in ((cases, "hand-written"), (real, "real")) if n]
    return (
        f"synthetic reports with {' and '.join(mixed)} ones" if mixed else "synthetic reports only"
    )


def describe(schema: Schema, real: int, cases: int) -> str:
    """Write the one-line description (the package summary and the README's first line).

    schema (Schema): The schema.
    real (int): Real reports mixed into the training corpus.
    cases (int): Hand-written training cases in the corpus.
    RETURNS (str): One line.
    """
    states = ", ".join(schema.states)
    data = trained_on(real, cases)
    return (
        f"Labels {schema.name} radiology reports: {len(schema.labels)} labels, each one of "
        f"{states}. For building research datasets, not for clinical decisions. Trained on "
        f"{data}; see Evaluation for tests beyond them."
    )


def sources(schema: Schema, corpus: Dict[str, Any], config: Dict[str, Any]) -> List[Dict[str, str]]:
    """List the training data sources, for meta.json's `sources`.

    schema (Schema): The schema.
    corpus (Dict[str, Any]): The corpus meta.json of `synth`.
    config (Dict[str, Any]): The pipeline's interpolated config.
    RETURNS (List[Dict[str, str]]): One {"name": ...} per source.
    """
    found = [
        {
            "name": f"Synthetic {schema.name} reports (spacy-radlabels synth, templates "
            f"{corpus.get('templates')}, seed {corpus.get('seed')})"
        }
    ]
    if n_cases(corpus):
        found.append({"name": f"{n_cases(corpus)} hand-written reports (the templates' cases)"})
    if n_real(corpus):
        found.append({"name": f"{n_real(corpus)} annotated real reports"})
    for model_name in transformers(config).values():
        found.append({"name": f"Transformer weights: {model_name}"})
    return found


def card_notes(
    schema: Schema,
    corpus: Dict[str, Any],
    provenance: Dict[str, Any],
    encoder: str,
    metrics: Dict[str, Dict[str, Any]],
    meta: Dict[str, Any],
) -> str:
    """Write the card's sections as Markdown (meta.json `notes`, the end of the README).

    schema (Schema): The schema.
    corpus (Dict[str, Any]): The corpus meta.json of `synth`.
    provenance (Dict[str, Any]): Version, hashes and corpus settings (meta's `radlabels`).
    encoder (str): What gives the token vectors (`token_vectors`).
    metrics (Dict[str, Dict[str, Any]]): The metrics found (`read_metrics`).
    meta (Dict[str, Any]): The pipeline's meta.
    RETURNS (str): Markdown, one `###` section per entry of CARD_SECTIONS.
    """
    sections = [
        intended_use(schema),
        training_data(schema, corpus, provenance, encoder),
        evaluation(metrics, bool(meta.get("performance")), mixed_dev(corpus)),
        failure_modes(metrics, trained_on(n_real(corpus), n_cases(corpus))),
        retraining(schema, meta),
        provenance_section(provenance, meta),
    ]
    return "\n\n".join(
        f"### {title}\n\n{body.strip()}" for title, body in zip(CARD_SECTIONS, sections)
    )


def intended_use(schema: Schema) -> str:
    """Write the intended and the out-of-scope uses.

    schema (Schema): The schema.
    RETURNS (str): Markdown.
    """
    return (
        "Labelling radiology reports to build research datasets: cohort selection, weak "
        "labels for image models, audits of report collections. The reports it was made "
        f"for: {schema.description or schema.name} Every report gets one state per label "
        f"({', '.join(schema.states)}) for what the radiologist reported, not for the "
        "patient's true condition.\n\n"
        "Not for clinical decisions: no triage, alerting or any use that bears on one "
        "patient's care. Not for reports of other modalities, body parts or languages than "
        "the schema describes. Check the labels on a sample of your own annotated reports "
        "(`python -m spacy_radlabels evaluate`) before relying on them."
    )


def training_data(
    schema: Schema, corpus: Dict[str, Any], provenance: Dict[str, Any], encoder: str
) -> str:
    """Say what the pipeline was trained on and with.

    schema (Schema): The schema.
    corpus (Dict[str, Any]): The corpus meta.json of `synth`.
    provenance (Dict[str, Any]): Version, hashes and corpus settings.
    encoder (str): What gives the token vectors.
    RETURNS (str): Markdown.
    """
    sizes = corpus.get("sizes", {})
    real = corpus.get("real") or {}
    cases = corpus.get("train_cases") or {}
    synthetic = {
        split: sizes.get(split, 0) - real.get(split, 0) - cases.get(split, 0)
        for split in ("train", "dev")
    }
    lines = [
        f"- {synthetic['train']} synthetic reports for training and {synthetic['dev']} for dev, "
        f"generated by `python -m spacy_radlabels synth` with seed {corpus.get('seed')} from "
        f"the schema `{schema.name}` ({len(schema.labels)} labels, file "
        f"`{provenance['schema']['file']}`) and the templates `{corpus.get('templates')}`; "
        f"{sizes.get('test_heldout')} more from held-out templates for testing only.",
    ]
    if n_cases(corpus):
        lines.append(
            f"- Mixed in: {n_cases(corpus)} hand-written reports (the templates' training "
            "cases, written from the reporting phenomena by writers who had not read the "
            f"templates): {cases.get('train', 0)} training items (with repeats) and "
            f"{cases.get('dev', 0)} in dev."
        )
    if n_real(corpus):
        lines.append(
            f"- Mixed in: {real.get('train', 0)} annotated real reports in training and "
            f"{real.get('dev', 0)} in dev (`--real`)."
        )
    else:
        lines.append("- No real report was used in training.")
    lines.append(f"- Token vectors: {encoder}.")
    return "\n".join(lines)


def mixed_dev(corpus: Dict[str, Any]) -> str:
    """Say what dev holds besides synthetic reports, e.g. "18 hand-written cases", or ""."""
    kinds = (("train_cases", "hand-written cases"), ("real", "annotated real reports"))
    counts = [((corpus.get(key) or {}).get("dev", 0), kind) for key, kind in kinds]
    return " and ".join(f"{n} {kind}" for n, kind in counts if n)


def evaluation(metrics: Dict[str, Dict[str, Any]], has_performance: bool, mixed: str) -> str:
    """Write the evaluation tables, each set named for what it is.

    metrics (Dict[str, Dict[str, Any]]): The metrics found (`read_metrics`).
    has_performance (bool): Whether spaCy's README shows an Accuracy table above the card.
    mixed (str): What dev holds besides synthetic reports (`mixed_dev`), or "".
    RETURNS (str): Markdown.
    """
    parts = []
    if has_performance:
        parts.append(
            "The Accuracy table above is spaCy's score on the dev set during training "
            "(x 100). Figures here are fractions; micro and macro F1 are over the finding "
            "states (all but negative/absent), accuracy over every label decision."
        )
    rows = []
    for name, title, what in EVALUATION_SETS:
        if name == "dev" and mixed:
            title, what = "Dev", f"{what}, with {mixed} mixed in"
        if name in metrics:
            scores = metrics[name]
            rows.append(
                [
                    title,
                    what,
                    str(scores["n_docs"]),
                    fmt(scores["accuracy"]),
                    fmt(scores["micro"]["f"]),
                    fmt(scores["macro_f"]),
                ]
            )
    if rows:
        header = ["Set", "What it is", "Reports", "Accuracy", "Micro F1", "Macro F1"]
        parts.append(markdown_table(header, rows))
    if PROBE_SET in metrics:
        probe = metrics[PROBE_SET]
        parts.append(
            "Probe suite: behavioural cases built from the schema with their own carrier "
            "phrases (CheckList, Ribeiro et al. 2020). Target accuracy: the labels a case "
            "states, in their state; spurious rate: labels a case does not mention that are "
            "set positive or uncertain.\n\n"
            + markdown_table(
                ["Set", "Cases", "Target accuracy", "Spurious rate"],
                [
                    [
                        "Probe suite",
                        str(probe.get("n_cases", "–")),
                        fmt(probe.get("target_accuracy")),
                        fmt(probe.get("spurious_rate")),
                    ]
                ],
            )
        )
    if OPENI_SET in metrics:
        openi = metrics[OPENI_SET]
        rows = [
            [system, fmt(scores["micro_f"]), fmt(scores["macro_f"])]
            for system, scores in openi["systems"].items()
        ]
        parts.append(
            f"Open-i chest X-ray reports (real; {openi.get('split')}, {openi.get('n_reports')} "
            "reports; gold from the manual MeSH indexing): F1 of the positive state, beside "
            "a rule baseline (entity ruler over the schema's variants + negspacy).\n\n"
            + markdown_table(["System", "Micro F1", "Macro F1"], rows)
        )
    if not parts:
        parts.append("No evaluation metrics were given when this card was written.")
    return "\n\n".join(parts)


def confusions(scores: Dict[str, Any]) -> List[Tuple[int, str, str, str]]:
    """List a metrics file's confusions: gold state read as another, per label.

    scores (Dict[str, Any]): Metrics of `compute_metrics`.
    RETURNS (List[Tuple[int, str, str, str]]): (count, label, gold, predicted), most first.
    """
    states = scores["states"]
    found = []
    for label, label_scores in scores["per_label"].items():
        for i, row in enumerate(label_scores["confusion"]):
            for j, count in enumerate(row):
                if i != j and count:
                    found.append((count, label, states[i], states[j]))
    return sorted(found, key=lambda item: (-item[0], item[1]))


def failure_modes(metrics: Dict[str, Dict[str, Any]], data: str) -> str:
    """List the failure modes that the metrics show, most frequent first.

    metrics (Dict[str, Dict[str, Any]]): The metrics found (`read_metrics`).
    data (str): What the pipeline was trained on (`trained_on`).
    RETURNS (str): A Markdown list.
    """
    lines = [
        f"- Trained on {data}: wording, layouts and abbreviations that the templates lack are "
        "read less reliably, and accuracy on real reports of your institution is unknown "
        "until measured."
    ]
    if "dev" in metrics and "test_heldout" in metrics:
        lines.append(
            f"- Unseen phrasing: macro F1 {fmt(metrics['dev']['macro_f'])} on synthetic dev, "
            f"{fmt(metrics['test_heldout']['macro_f'])} on held-out templates."
        )
    if "hard_cases" in metrics:
        hard = metrics["hard_cases"]
        for count, label, gold, predicted in confusions(hard)[:N_FAILURES]:
            lines.append(
                f"- Hard cases: `{label}` {gold} read as {predicted} in {count} of "
                f"{hard['n_docs']} reports."
            )
    if PROBE_SET in metrics:
        probe = metrics[PROBE_SET]
        # Only the capabilities that do worse than the suite as a whole.
        overall = probe.get("target_accuracy")
        capabilities = [
            (scores["target_accuracy"], name)
            for name, scores in probe.get("per_capability", {}).items()
            if overall is not None
            and scores.get("target_accuracy") is not None
            and scores["target_accuracy"] < overall
        ]
        for accuracy, name in sorted(capabilities)[:N_FAILURES]:
            lines.append(f"- Probe suite: target accuracy {fmt(accuracy)} on `{name}` cases.")
        spurious = [
            (scores["spurious_rate"], label)
            for label, scores in probe.get("per_label", {}).items()
            if scores.get("spurious_rate")
        ]
        for rate, label in sorted(spurious, reverse=True)[:N_FAILURES]:
            lines.append(
                f"- Probe suite: `{label}` set positive or uncertain where no case mentions it "
                f"(spurious rate {fmt(rate)})."
            )
    if "hard_cases" not in metrics and PROBE_SET not in metrics:
        lines.append("- Not measured: no hard-case or probe metrics were given for this card.")
    return "\n".join(lines)


def retraining(schema: Schema, meta: Dict[str, Any]) -> str:
    """Say how to retrain on one's own reports and check the result.

    schema (Schema): The schema.
    meta (Dict[str, Any]): The package meta (for its name).
    RETURNS (str): Markdown with the commands.
    """
    schema_file = schema.path.as_posix() if schema.path else "SCHEMA.yml"
    package = f"{meta.get('lang', 'en')}_{meta['name']}"
    return (
        "With the spacy-radlabels project (`project.yml`): annotate some of your reports "
        "(CSV or JSONL, state words or CheXpert 1/0/-1/blank), convert them and train on "
        "them mixed with synthetic reports, then evaluate on reports kept apart:\n\n"
        "```bash\n"
        "python -m spacy_radlabels convert my_reports.csv corpus/real.spacy "
        f"--schema {schema_file}\n"
        f"spacy project run all . --vars.schema {schema_file} --vars.real corpus/real.spacy\n"
        f"python -m spacy_radlabels evaluate {package} my_test.jsonl --output metrics/mine\n"
        "```\n\n"
        "To label other findings, edit the schema (labels, variants, hierarchy) and its "
        "templates; the same commands train on them."
    )


def provenance_section(provenance: Dict[str, Any], meta: Dict[str, Any]) -> str:
    """List the versions and hashes (also in meta.json's `radlabels`).

    provenance (Dict[str, Any]): Version, hashes and corpus settings.
    meta (Dict[str, Any]): The pipeline's meta (for the spaCy version).
    RETURNS (str): A Markdown list.
    """
    lines = [
        f"- spacy-radlabels {provenance['version']}, spaCy {meta.get('spacy_version', '')}",
        f"- Schema `{provenance['schema']['file']}`: sha256 `{provenance['schema']['sha256']}`",
    ]
    if provenance["templates"] is not None:
        templates = provenance["templates"]
        lines.append(f"- Templates `{templates['file']}`: sha256 `{templates['sha256']}`")
        for inc in templates.get("includes", []):
            lines.append(f"- Included templates `{inc['file']}`: sha256 `{inc['sha256']}`")
        cases = templates.get("train_cases")
        if cases:
            lines.append(f"- Training cases `{cases['file']}`: sha256 `{cases['sha256']}`")
    return "\n".join(lines)


def template_provenance(path: Path) -> Dict[str, Any]:
    """Name and hash a template file, the files it includes and its training cases.

    path (Path): The template YAML file.
    RETURNS (Dict[str, Any]): {"file", "sha256", "includes": [{"file", "sha256"}, ...],
        "train_cases": {"file", "sha256"} or None}.
    """
    cases = train_cases_file(path)
    return {
        "file": path.name,
        "sha256": checksum(path),
        "includes": [{"file": inc.name, "sha256": checksum(inc)} for inc in included_files(path)],
        "train_cases": {"file": cases.name, "sha256": checksum(cases)} if cases else None,
    }


def write_card_meta(meta: Dict[str, Any], path: Path) -> Path:
    """Write a card's meta.json.

    meta (Dict[str, Any]): The meta of `build_card_meta`.
    path (Path): The file (its folder is created).
    RETURNS (Path): The file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(path, meta)
    return path
