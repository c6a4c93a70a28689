"""The synthetic corpus: exact and hierarchical gold, hold-out hygiene, determinism, CLI."""

import inspect
import json
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import typer
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_radlabels.annotations import read_annotated
from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import (
    ReportGenerator,
    TemplateError,
    load_templates,
    mix_real,
    write_corpus,
)
from spacy_radlabels.synth.corpus import CASE_ID_PREFIX, SPLITS, RealCorpusError
from spacy_radlabels.synth.generator import (
    CARRIER,
    NEUTRAL_WORDS,
    RANK,
    REPORT,
    SHORT_SHAPES,
    SHORT_WEIGHTS,
    Unit,
    cue_words,
)
from spacy_radlabels.synth.grammar import deny, render_phrase
from spacy_radlabels.synth.templates import SLOT_RE, Site, mention_regex

from .conftest import template_text

ROOT = Path(__file__).parent.parent
HEAD_CT = ROOT / "assets" / "schemas" / "head_ct.yml"
TEMPLATES = ROOT / "assets" / "templates" / "head_ct.yml"
FILES = [
    f"{split}.{ext}" for split in ("train", "dev", "test_heldout") for ext in ("spacy", "jsonl")
]
FILES.append("meta.json")


@pytest.fixture(scope="module")
def schema():
    return load_schema(HEAD_CT)


@pytest.fixture(scope="module")
def templates(schema):
    return load_templates(TEMPLATES, schema)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, schema, templates):
    out = tmp_path_factory.mktemp("corpus")
    meta = write_corpus(schema, templates, out, n=2000, seed=7, dev_fraction=0.1, n_heldout=300)
    return out, meta


def read_jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def frame_regex(pattern: str) -> re.Pattern:
    # A carrier pattern with any phrase in its slots, e.g. "(.+) is not identified\.".
    parts = SLOT_RE.split(normalise(pattern))
    literal = [re.escape(p) if i % 2 == 0 else "[^.;]{1,120}?" for i, p in enumerate(parts)]
    return re.compile("".join(literal))


def frame_hits(pattern: str, texts) -> list:
    # Search only texts holding the pattern's longest literal part: the regex is slow.
    anchor = max(SLOT_RE.split(normalise(pattern))[::2], key=len)
    regex = frame_regex(pattern)
    return [t for t in texts if anchor in t and regex.search(t)]


def test_sizes_and_meta(corpus):
    out, meta = corpus
    # 1,800 synthetic reports in train and 200 in dev, with the head CT templates' training
    # cases: a tenth of train (with repeats) and a tenth of them in dev.
    n_cases = len(read_jsonl(ROOT / "assets" / "train_cases.jsonl"))
    assert meta["sizes"] == {"train": 2000, "dev": 200 + round(n_cases / 10), "test_heldout": 300}
    assert meta["train_cases"] == {"cases": n_cases, "train": 200, "dev": round(n_cases / 10)}
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert json.loads((out / "meta.json").read_text())["sizes"] == meta["sizes"]


def test_every_label_in_every_state_in_train(corpus, schema):
    counts = corpus[1]["train_label_counts"]
    for label in schema.labels:
        for state in schema.states:
            assert counts[label].get(state, 0) >= 10, (label, state, counts[label])


def test_every_doc_gives_every_label_a_state(corpus, schema):
    for split in ("train", "dev", "test_heldout"):
        for record in read_jsonl(corpus[0] / f"{split}.jsonl"):
            assert list(record["labels"]) == schema.labels
            assert set(record["labels"].values()) <= set(schema.states)
            assert record["text"].strip()


def test_gold_respects_the_hierarchy(corpus, schema):
    for record in read_jsonl(corpus[0] / "train.jsonl"):
        gold = record["labels"]
        for child, parent in schema.hierarchy.items():
            assert RANK[gold[parent]] >= RANK[gold[child]], (record["id"], child, parent)


def test_gold_labels_are_mentioned_in_the_text(corpus, schema, templates):
    # A positive or uncertain label is written somewhere: itself or a descendant. The
    # hand-written training cases use words of their own.
    regexes = {lab: templates.label_regex(schema, lab) for lab in schema.labels}
    checked, missed = 0, []
    records = read_jsonl(corpus[0] / "train.jsonl")
    for record in [r for r in records if not r["id"].startswith(CASE_ID_PREFIX)][:500]:
        text = normalise(record["text"])
        for label, state in record["labels"].items():
            if state != "negative":
                checked += 1
                if not any(
                    regexes[lab].search(text) for lab in [label] + schema.descendants(label)
                ):
                    missed.append((record["text"], label))
    # Only a typo that hits the one mention may hide it.
    assert len(missed) <= 0.01 * checked, missed[:3]


def test_docbin_round_trip_keeps_gold(corpus):
    out, _ = corpus
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    records = read_jsonl(out / "dev.jsonl")
    assert len(docs) == len(records)
    for doc, record in zip(docs, records):
        assert doc.text == record["text"]
        assert doc._.labels == record["labels"]


def test_no_heldout_phrasing_in_train(corpus, templates):
    assert_no_heldout_phrasing(corpus[0], templates)


def assert_no_heldout_phrasing(out: Path, templates) -> None:
    records = read_jsonl(out / "train.jsonl") + read_jsonl(out / "dev.jsonl")
    assert_no_heldout_phrasing_in([r["text"] for r in records], templates)


def assert_no_heldout_phrasing_in(texts, templates) -> None:
    train = [normalise(text) for text in texts]
    for pattern in templates.heldout_patterns():
        hits = frame_hits(pattern, train)
        assert not hits, (pattern, hits[:1])
    for label, variants in templates.heldout_variants.items():
        regex = mention_regex(variants)
        assert not any(regex.search(t) for t in train), (label, variants)


def test_test_set_uses_heldout_phrasing(corpus, templates):
    records = read_jsonl(corpus[0] / "test_heldout.jsonl")
    asserted = [normalise(r["text"]) for r in records if set(r["labels"].values()) != {"negative"}]
    with_heldout = set()
    for pattern in templates.heldout_patterns():
        with_heldout.update(frame_hits(pattern, asserted))
    assert len(with_heldout) >= 0.9 * len(asserted)


def test_same_seed_same_bytes_other_seed_differs(tmp_path, schema, templates):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_corpus(schema, templates, tmp_path / name, n=150, seed=seed, n_heldout=30)
    for file in FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a/train.spacy").read_bytes() != (tmp_path / "c/train.spacy").read_bytes()


def test_same_reports_in_another_process(schema, templates):
    # String hashing is salted per process; the reports must not depend on it (the DocBin
    # bytes then follow, as DocBin sorts its strings).
    code = (
        "import json, random;"
        "from spacy_radlabels.schema import load_schema;"
        "from spacy_radlabels.synth import ReportGenerator, load_templates;"
        f"s = load_schema({str(HEAD_CT)!r});"
        f"g = ReportGenerator(s, load_templates({str(TEMPLATES)!r}, s), True, 0.3);"
        "rng = random.Random('5');"
        "print(json.dumps([g.generate(rng) for _ in range(200)]))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    generator = ReportGenerator(schema, templates, heldout=True, short_ratio=0.3)
    rng = random.Random("5")
    here = [list(generator.generate(rng)) for _ in range(200)]
    assert json.loads(result.stdout) == here


def test_generator_uses_only_its_rng(schema, templates):
    generator = ReportGenerator(schema, templates, short_ratio=0.5)
    first = [generator.generate(random.Random(1)) for _ in range(3)]
    random.seed(99)
    assert [generator.generate(random.Random(1)) for _ in range(3)] == first


def make_real(path: Path, labels_per_doc):
    nlp = spacy.blank("en")
    doc_bin = DocBin(store_user_data=True)
    for i, labels in enumerate(labels_per_doc):
        doc = nlp.make_doc(f"Real report {i}. Small left SDH.")
        doc._.labels = labels
        doc_bin.add(doc)
    doc_bin.to_disk(path)


def test_real_reports_mix_in_at_the_ratio(tmp_path, schema, templates):
    real = tmp_path / "real.spacy"
    make_real(real, [{"subdural_haematoma": "positive", "haemorrhage": "positive"}] * 10)
    meta = write_corpus(
        schema,
        templates,
        tmp_path / "out",
        n=100,
        seed=1,
        n_heldout=0,
        dev_fraction=0.1,
        real=real,
        real_ratio=0.5,
    )
    # Half of a train set of 90 synthetic reports and the templates' 10 training cases.
    assert meta["real"] == {"train": 100, "dev": 1}
    texts = [r["text"] for r in read_jsonl(tmp_path / "out" / "train.jsonl")]
    assert sum(t.startswith("Real report") for t in texts) == 100
    dev = read_jsonl(tmp_path / "out" / "dev.jsonl")
    assert dev[-1]["labels"] == {"subdural_haematoma": "positive", "haemorrhage": "positive"}


def test_mix_real_shares():
    synthetic = [(f"s{i}", None) for i in range(70)]
    real = [(f"r{i}", None) for i in range(7)]
    mixed = mix_real(synthetic, real, 0.3, random.Random(0))
    names = [name for name, _ in mixed]
    assert len(mixed) == 100 and sum(n.startswith("r") for n in names) == 30
    assert {names.count(f"r{i}") for i in range(7)} <= {4, 5}


def test_real_report_errors_name_file_doc_and_label(tmp_path, schema, templates):
    real = tmp_path / "real.spacy"
    make_real(real, [{"haemorrhage": "positive"}, {"bleeding": "positive"}])
    with pytest.raises(RealCorpusError, match=re.escape(f"{real}, doc 1: label 'bleeding'")):
        write_corpus(schema, templates, tmp_path / "out", n=10, real=real)


def write_templates(tmp_path: Path, old: str, new: str) -> Path:
    text = template_text(TEMPLATES)
    assert old in text
    path = tmp_path / "templates.yml"
    path.write_text(text.replace(old, new), encoding="utf8")
    return path


@pytest.mark.parametrize(
    "old,new,message",
    [
        (
            '"There is {X}.",',
            '"There is {X} and no haemorrhage.",',
            "family 'pos_there_is' pattern 'There is {X} and no haemorrhage.' names label "
            "'haemorrhage'",
        ),
        (
            "subdural_haematoma: [subdural bleed]",
            "subdural_haematoma: [subdural clot]",
            "held-out variant 'subdural clot' of label 'subdural_haematoma'",
        ),
        (
            "labels: [lacunar_infarct]",
            "labels: [lacunar_infarkt]",
            "site 'deep' names label 'lacunar_infarkt'",
        ),
        (
            '"The orbits are unremarkable."',
            '"No fracture of the orbits."',
            "normal sentence 'No fracture of the orbits.' names label 'skull_fracture'",
        ),
        (
            '{text: "Stable."}',
            '{text: "Stable, no bleed."}',
            "fragment 'Stable, no bleed.' names label 'haemorrhage'",
        ),
        (
            '{text: "No SAH.", labels: {subarachnoid_haemorrhage: negative}}',
            '{text: "No SAH.", labels: {subdural_haematoma: negative}}',
            "fragments 'No SAH.' gives 'subdural_haematoma' a state but does not name it",
        ),
        (
            '{text: "No fracture.", labels: {skull_fracture: negative}}',
            '{text: "No fracture.", labels: {skull_fracture: absent}}',
            "fragments 'No fracture.' gives 'skull_fracture' state 'absent'",
        ),
        (
            '{text: "Clinical details noted."}',
            '{text: "Clinical details: ?SAH."}',
            "label_free text 'Clinical details: ?SAH.' names label 'subarachnoid_haemorrhage'",
        ),
        (
            '    kind: differential\n    state: uncertain\n    patterns: ["{X} or {Y}.",',
            '    kind: differential\n    state: uncertain\n    patterns: ["{X} or {Z}.",',
            "family 'unc_differential' pattern '{X} or {Z}.' uses slots ['Z']",
        ),
        (
            "name: head_ct\n",
            "name: head_ct\ndifferential_share: 2\n",
            "differential_share must be a number from 0 to 0.5, not 2",
        ),
        (
            "name: head_ct\n",
            "name: head_ct\nhedged_again_share: -0.1\n",
            "hedged_again_share must be a number from 0 to 0.5, not -0.1",
        ),
        (
            "train_cases_share: 0.1\n",
            "",
            "train_cases needs train_cases_share, their share of train (0 to 0.5)",
        ),
        (
            f"train_cases: {TEMPLATES.parent / '../train_cases.jsonl'}\n",
            "",
            "train_cases_share needs train_cases, the .jsonl file of cases",
        ),
        (
            "train_cases_share: 0.1\n",
            "train_cases_share: 0.9\n",
            "train_cases_share must be a number from 0 to 0.5, not 0.9",
        ),
        (
            "      old_ischaemic_stroke: {words:",
            "      lacunar_infarct: {words:",
            "site 'parenchymal' apart of 'lacunar_infarct': 'lacunar_infarct' is not one of",
        ),
        (
            "nouns: [infarct, infarction]}\n  deep:",
            "nouns: [haematoma]}\n  deep:",
            "apart noun of 'old_ischaemic_stroke' 'haematoma' names label 'haemorrhage'",
        ),
        (
            "nouns: [infarct, infarction]}\n  deep:",
            "names: [infarct]}\n  deep:",
            "apart of 'old_ischaemic_stroke' must be a mapping with exactly the keys",
        ),
    ],
)
def test_template_errors_name_file_and_entry(tmp_path, schema, old, new, message):
    path = write_templates(tmp_path, old, new)
    with pytest.raises(TemplateError) as info:
        load_templates(path, schema)
    assert str(path) in str(info.value)
    assert message in str(info.value)


SHARED = """families:
  - {id: pos_there_is, kind: single, state: positive, patterns: ["Shared {X}."]}
  - {id: unc_shared, kind: single, state: uncertain, patterns: ["Maybe shared {X}."]}
"""


def test_included_families_merge_by_id(tmp_path, schema):
    # An included family comes first; the file's family of the same id adds its patterns.
    path = write_templates(tmp_path, "name: head_ct\n", "name: head_ct\ninclude: [cues.yml]\n")
    (tmp_path / "cues.yml").write_text(SHARED, encoding="utf8")
    families = {family.id: family for family in load_templates(path, schema).families}
    assert families["pos_there_is"].patterns[:2] == ["Shared {X}.", "There is {X}."]
    assert families["unc_shared"].patterns == ["Maybe shared {X}."]
    assert len(families) == len(load_templates(TEMPLATES, schema).families) + 1


@pytest.mark.parametrize(
    "include,cues,message",
    [
        ("[missing.yml]", SHARED, "included file"),
        ("[cues.yml]", "name: x\n" + SHARED, "an included file holds only 'families'"),
        (
            "[cues.yml]",
            SHARED.replace("state: positive", "state: uncertain", 1),
            "family 'pos_there_is' differs from the included family of that id in ['state']",
        ),
        ("[cues.yml]", SHARED + SHARED[len("families:") :], "included family id"),
    ],
)
def test_include_errors_name_the_file(tmp_path, schema, include, cues, message):
    path = write_templates(tmp_path, "name: head_ct\n", f"name: head_ct\ninclude: {include}\n")
    (tmp_path / "cues.yml").write_text(cues, encoding="utf8")
    with pytest.raises(TemplateError, match=re.escape(message)):
        load_templates(path, schema)


@pytest.fixture(scope="module")
def cli():
    from spacy_radlabels.cli import (
        app,
        synth,  # noqa: F401  (registers the command)
    )

    return app


def test_cli_writes_the_files(tmp_path, cli):
    out = tmp_path / "corpus"
    args = ["synth", str(HEAD_CT), str(out), "--n", "40", "--n-heldout", "10", "--seed", "2"]
    result = CliRunner().invoke(cli, args + ["--short-ratio", "0.5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert len(read_jsonl(out / "test_heldout.jsonl")) == 10
    assert json.loads((out / "meta.json").read_text())["short_ratio"] == 0.5


def test_cli_default_short_ratio_is_the_library_default():
    from spacy_radlabels.cli.synth import synth_cli
    from spacy_radlabels.synth.corpus import SHORT_RATIO

    option = inspect.signature(synth_cli).parameters["short_ratio"].default
    assert option.default == SHORT_RATIO > 0


def test_cli_errors_name_the_file(tmp_path, cli):
    missing = tmp_path / "nope.yml"
    result = CliRunner().invoke(cli, ["synth", str(missing), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert str(missing) in result.output and "file not found" in result.output
    assert isinstance(cli, typer.Typer)


# Hand-written reports: the hard cases are a test set; the dev cases are read for errors;
# the training cases are mixed into the corpus (the templates' `train_cases`).
@pytest.mark.parametrize(
    "name,size", [("hard_cases", 100), ("dev_cases", 80), ("train_cases", 150)]
)
def test_hard_cases_are_complete_and_consistent(schema, name, size):
    records = read_jsonl(ROOT / "assets" / f"{name}.jsonl")
    assert len(records) >= size
    assert len({r["id"] for r in records}) == len(records)
    positive = set()
    for record in records:
        gold = record["labels"]
        assert list(gold) == schema.labels, record["id"]
        assert set(gold.values()) <= set(schema.states)
        for child, parent in schema.hierarchy.items():
            assert RANK[gold[parent]] >= RANK[gold[child]], (record["id"], child)
        positive.update(label for label, state in gold.items() if state == "positive")
    assert positive == set(schema.labels)


# The dev and training cases also report other abnormalities (emphysema, a hiatal hernia),
# which leave No Finding absent though no label is found; the hard cases do not.
@pytest.mark.parametrize(
    "name,size,other_abnormalities",
    [
        ("hard_cases_chest", 40, False),
        ("dev_cases_chest", 70, True),
        ("train_cases_chest", 150, True),
    ],
)
def test_chest_hard_cases_are_complete_and_follow_chexpert(name, size, other_abnormalities):
    chest = load_schema(ROOT / "assets" / "schemas" / "chest_xray.yml")
    path = ROOT / "assets" / f"{name}.jsonl"
    reports = list(read_annotated(path, chest.labels, chest.states, coding="states"))
    assert len(reports) >= size
    assert len({report.id for report in reports}) == len(reports)
    opacity_word = mention_regex(chest.variants("lung_opacity"))
    positive = set()
    for report in reports:
        gold = report.labels
        assert list(gold) == chest.labels, report.id
        # Only an opacity-type word states Lung Opacity: "lungs are clear" leaves it absent.
        if gold["lung_opacity"] == "negative":
            assert opacity_word.search(report.text), report.id
        findings = [label for label in chest.labels if chest.group(label) == "finding"]
        found = any(gold[label] in ("positive", "uncertain") for label in findings)
        if found:
            assert gold["no_finding"] == "absent", report.id
        elif other_abnormalities:
            assert gold["no_finding"] in ("positive", "absent"), report.id
        else:
            assert gold["no_finding"] == "positive", report.id
        positive.update(label for label, state in gold.items() if state == "positive")
    assert positive == set(chest.labels)


@pytest.mark.parametrize("name", ["head_ct", "chest_xray"])
def test_train_cases_keep_out_heldout_phrasing_and_test_reports(name):
    # test_heldout measures unseen wording, and the dev and hard cases text no model saw.
    schema = load_schema(ROOT / "assets" / "schemas" / f"{name}.yml")
    templates = load_templates(schema.templates, schema)
    texts = [r["text"] for r in read_jsonl(templates.train_cases)]
    assert_no_heldout_phrasing_in(texts, templates)
    held = {normalise(text) for text in templates.heldout_short_texts()}
    assert not {s for t in texts for s in re.split(r"(?<=\.)\s+", normalise(t))} & held
    suffix = "_chest" if name == "chest_xray" else ""
    others = {
        normalise(r["text"])
        for kind in ("dev_cases", "hard_cases")
        for r in read_jsonl(ROOT / "assets" / f"{kind}{suffix}.jsonl")
    }
    assert not {normalise(text) for text in texts} & others


def test_train_cases_go_to_train_and_dev_only(tmp_path, schema, templates):
    meta = write_corpus(schema, templates, tmp_path, n=400, seed=0, n_heldout=50)
    cases = {r["text"]: r["labels"] for r in read_jsonl(templates.train_cases)}
    records = {split: read_jsonl(tmp_path / f"{split}.jsonl") for split in SPLITS}
    drawn = {
        split: [r for r in rows if r["id"].startswith(CASE_ID_PREFIX)]
        for split, rows in records.items()
    }
    assert len(drawn["train"]) == meta["train_cases"]["train"] == round(0.1 / 0.9 * 360)
    assert len(drawn["dev"]) == meta["train_cases"]["dev"] == round(0.1 * len(cases))
    assert not drawn["test_heldout"]
    assert not {r["text"] for r in drawn["dev"]} & {r["text"] for r in drawn["train"]}
    for record in drawn["train"] + drawn["dev"]:
        assert cases[record["text"]] == record["labels"]


def test_train_case_errors_name_file_and_line(tmp_path, schema):
    cases = tmp_path / "cases.jsonl"
    full = {label: "negative" for label in schema.labels}
    partial = {label: state for label, state in full.items() if label != "haemorrhage"}
    rows = [{"id": "a", "text": "No bleed.", "labels": full}]
    rows.append({"id": "b", "text": "No SAH.", "labels": partial})
    cases.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf8")
    path = tmp_path / "templates.yml"

    def with_cases(name: str):
        text = re.sub(
            r"^train_cases: .*$", f"train_cases: {name}", template_text(TEMPLATES), flags=re.M
        )
        path.write_text(text, encoding="utf8")
        return load_templates(path, schema)

    message = f"{cases}, line 2: case b gives no state for ['haemorrhage']"
    with pytest.raises(RealCorpusError, match=re.escape(message)):
        write_corpus(schema, with_cases(cases.name), tmp_path / "out", n=10)
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(TemplateError, match=re.escape(f"train_cases file {missing} not found")):
        with_cases(missing.name)


def test_heldout_phrasing_recombines_seen_words(templates):
    # A CPU model cannot know a cue word it never saw; held-out frames rearrange known ones.
    def words(text: str) -> set:
        return set(re.findall(r"[a-z]+", SLOT_RE.sub(" ", text.lower())))

    seen = set()
    for family in templates.families:
        if not family.heldout:
            for pattern in family.patterns:
                seen |= words(pattern)
    for pattern in templates.heldout_patterns():
        assert len(words(pattern) - seen) <= 2, (pattern, words(pattern) - seen)


def test_heldout_variants_recombine_the_labels_words(schema, templates):
    # "subarachnoid bleed" is learnable from "subarachnoid blood" and "bleed"; "SAH" is not,
    # nor "contusions" from "contusion" (hashed word features differ), and "dilatation of
    # the ventricles" would read as intraventricular blood.
    def words(text: str) -> set:
        return set(re.findall(r"[a-z]+", text.lower())) - {"of", "the", "in", "on", "and"}

    for label, held in templates.heldout_variants.items():
        family = [label] + schema.ancestors(label) + schema.descendants(label)
        known, others = set(), set()
        for lab in schema.labels:
            for variant in schema.variants(lab):
                if lab not in family:
                    others |= words(variant)
                elif variant not in held and lab not in schema.descendants(label):
                    known |= words(variant)
        for variant in held:
            assert words(variant) <= known, (label, variant, words(variant) - known)
            assert words(variant) - others, (label, variant, "no word of its own")


CHEST = ROOT / "assets" / "schemas" / "chest_xray.yml"


@pytest.fixture(scope="module")
def chest(tmp_path_factory):
    chest_schema = load_schema(CHEST)
    chest_templates = load_templates(chest_schema.templates, chest_schema)
    out = tmp_path_factory.mktemp("chest")
    # Whole reports: the tests below check the generator's report-level conventions, so they
    # read the synthetic reports, not the hand-written training cases.
    meta = write_corpus(
        chest_schema, chest_templates, out, n=1500, seed=3, n_heldout=0, short_ratio=0.0
    )
    records = [r for r in read_jsonl(out / "train.jsonl") if not r["id"].startswith(CASE_ID_PREFIX)]
    return chest_schema, chest_templates, records, meta


def test_chest_every_label_in_every_state_in_train(chest):
    chest_schema, _, _, meta = chest
    counts = meta["train_label_counts"]
    for label in chest_schema.labels:
        states = ["positive", "absent"] if label == "no_finding" else chest_schema.states
        for state in states:
            assert counts[label].get(state, 0) >= 10, (label, state, counts[label])


def test_abnormal_sentences_end_no_finding(chest):
    # An abnormality no label covers (CheXpert's other findings) makes the report not normal.
    _, chest_templates, records, _ = chest
    abnormal = [s.text for s in chest_templates.normal_findings if s.abnormal]
    with_abnormal = [r for r in records if any(text in r["text"] for text in abnormal)]
    assert len(with_abnormal) >= 0.1 * len(records)
    assert all(r["labels"]["no_finding"] == "absent" for r in with_abnormal)
    normal = [r for r in records if r["labels"]["no_finding"] == "positive"]
    assert len(normal) >= 0.05 * len(records)


def test_negative_pairs_deny_both_labels(chest):
    chest_schema, _, records, _ = chest
    regexes = {lab: mention_regex(chest_schema.variants(lab)) for lab in chest_schema.labels}
    frame = re.compile(r"(?:^|[.:]\s*)No ([^.;]+?) to suggest ([^.;]+?)\.", re.MULTILINE)
    checked = 0
    for record in records:
        for match in frame.finditer(record["text"]):
            for phrase in match.groups():
                labels = [lab for lab, rx in regexes.items() if rx.fullmatch(phrase)]
                for label in labels:
                    # A parent stays positive when a child is ("no opacity to suggest
                    # pneumonia" beside atelectasis): only the hierarchy may lift it.
                    gold = record["labels"]
                    if any(
                        gold[d] in ("positive", "uncertain")
                        for d in chest_schema.descendants(label)
                    ):
                        continue
                    checked += 1
                    assert gold[label] in ("negative", "absent"), (record, label)
    assert checked >= 20


def test_clinical_details_assert_nothing(chest):
    # "History of pneumonia.", "?effusion.": the indication names a label, not this study's finding.
    chest_schema, chest_templates, records, _ = chest
    regexes = {lab: mention_regex(chest_schema.variants(lab)) for lab in chest_schema.labels}

    def alternatives(kinds):
        # Header text up to its first slot ("COMPARISON: {date}.").
        return "|".join(
            re.escape(h.split("{")[0]) for k in kinds for h in chest_templates.headers[k]
        )

    findings = re.compile(alternatives(["findings"]), re.IGNORECASE)
    following = alternatives(["comparison", "findings"])
    clinical_line = re.compile(
        rf"(?:{alternatives(['clinical'])}).*?(?={following})", re.IGNORECASE | re.DOTALL
    )
    history = "|".join(["history of", "known", "hx of", "recent", "treated for"])
    # "Unchanged cardiomediastinal contours." states its label without a variant to find.
    spelt_out = {
        label
        for family in chest_templates.families
        for pattern in family.patterns
        if not SLOT_RE.search(pattern)
        for label in family.labels or []
    }
    named, histories = 0, 0
    for record in records:
        # Without a findings header (or with a misspelt one) the section is not marked.
        line = clinical_line.search(record["text"]) if findings.search(record["text"]) else None
        if line is None:
            continue
        clinical = line.group()
        rest = record["text"][: line.start()] + record["text"][line.end() :]
        for label, regex in regexes.items():
            if label not in spelt_out and regex.search(clinical) and not regex.search(rest):
                named += 1
                histories += bool(re.search(rf"(?:{history}) {regex.pattern}", clinical, re.I))
                assert RANK[record["labels"][label]] == 0, (record, label)
    assert named >= 100 and histories >= 50, (named, histories)


# ---- short items ----


def items(generator, n: int, seed: str = "short"):
    rng = random.Random(seed)
    return [generator.generate_item(rng) for _ in range(n)]


def quiet(gold, schema) -> bool:
    return all(state == schema.negative_state for state in gold.values())


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.3])
def test_short_items_at_the_configured_rate(schema, templates, ratio):
    drawn = items(ReportGenerator(schema, templates, short_ratio=ratio), 3000)
    shapes = [shape for _, _, shape in drawn]
    short = [shape for shape in shapes if shape != REPORT]
    assert abs(len(short) / len(shapes) - ratio) < 0.025
    for shape, weight in zip(SHORT_SHAPES, SHORT_WEIGHTS):
        share = weight / sum(SHORT_WEIGHTS)
        # Within four binomial standard deviations: a wrong weight, not chance, fails.
        spread = 4 * math.sqrt(len(short) * share * (1 - share))
        assert abs(short.count(shape) - share * len(short)) <= spread
    reports = [len(text.split()) for text, _, shape in drawn if shape == REPORT]
    shorts = sorted(len(text.split()) for text, _, shape in drawn if shape != REPORT)
    # The barest report is a clinical line, one normal sentence and an impression.
    assert min(reports) >= 8 and sorted(reports)[len(reports) // 2] >= 30
    assert not shorts or shorts[len(shorts) // 2] < 10


def test_short_ratio_zero_keeps_the_reports(schema, templates):
    # Whole-report corpora are those the generator drew before short items existed.
    plain = ReportGenerator(schema, templates)
    zero = ReportGenerator(schema, templates, short_ratio=0.0)
    assert items(plain, 50) == items(zero, 50)
    with pytest.raises(ValueError, match="short ratio"):
        ReportGenerator(schema, templates, short_ratio=1.5)


def test_short_items_gold(schema, templates):
    drawn = items(ReportGenerator(schema, templates, short_ratio=1.0), 3000)
    listed = {f.text.lower(): f.labels for f in templates.fragments}
    regexes = {lab: mention_regex(schema.variants(lab)) for lab in schema.labels}
    questions = 0
    for text, gold, shape in drawn:
        assert list(gold) == schema.labels
        if shape in ("label_free", "label_free_report"):
            assert not [lab for lab, rx in regexes.items() if rx.search(text)], text
            assert quiet(gold, schema), (text, gold)
        elif shape == "fragment" and text.lower() not in listed:
            # "?SAH.": a question asserts nothing.
            questions += 1
            assert quiet(gold, schema), (text, gold)
        elif shape == "fragment":
            stated = listed[text.lower()]
            for label, state in gold.items():
                lifted = [d for d in schema.descendants(label) if d in stated]
                expected = stated.get(label) or (stated[lifted[0]] if lifted else "negative")
                assert state == expected, (text, label, state)
        for child, parent in schema.hierarchy.items():
            assert RANK[gold[parent]] >= RANK[gold[child]], (text, child, parent)
    assert questions >= 20
    by_text = {text.lower(): gold for text, gold, shape in drawn if shape == "fragment"}
    assert by_text["no bleed."]["haemorrhage"] == "negative"
    assert by_text["acute infarct."]["acute_ischaemic_stroke"] == "positive"
    assert by_text["acute infarct."]["ischaemic_stroke"] == "positive"
    assert quiet(by_text["stable."], schema)
    # "?SAH.", "?infarct.": the bare question names a label and asserts nothing.
    asked = [text for text in by_text if re.fullmatch(r"\?\s?[^?]+\.", text)]
    assert len(asked) >= 5 and all(quiet(by_text[text], schema) for text in asked)


def test_short_items_state_every_state(schema, templates):
    drawn = items(ReportGenerator(schema, templates, short_ratio=1.0), 2000)
    for shape in ("impression", "sentence"):
        states = {s for _, gold, kind in drawn if kind == shape for s in gold.values()}
        assert states == {"positive", "uncertain", "negative"}, (shape, states)


def test_heldout_short_texts_only_in_test(tmp_path, schema, templates):
    out = tmp_path / "corpus"
    write_corpus(schema, templates, out, n=2000, seed=5, n_heldout=600, short_ratio=0.5)
    held = [normalise(text) for text in templates.heldout_short_texts()]
    assert held

    def sentences(split: str) -> set:
        records = read_jsonl(out / f"{split}.jsonl")
        return {s for r in records for s in re.split(r"(?<=\.)\s+", normalise(r["text"]))}

    seen = sentences("train") | sentences("dev")
    assert not seen.intersection(held)
    assert sentences("test_heldout").intersection(held)


def test_chest_short_items_keep_no_finding_right(chest):
    # No Finding is positive when the text reports on the study and finds nothing (CheXpert).
    chest_schema, chest_templates, _, _ = chest
    generator = ReportGenerator(chest_schema, chest_templates, short_ratio=1.0)
    drawn = items(generator, 3000)
    findings = [lab for lab in chest_schema.labels if chest_schema.group(lab) == "finding"]
    short_texts = chest_templates.fragments + chest_templates.label_free
    normal = {s.text.lower() for s in short_texts if s.normal}
    normal |= {s.text.lower() for s in chest_templates.normal_findings if not s.abnormal}
    stating = {s.text.lower() for s in chest_templates.fragments if s.labels}
    plain = {s.text.lower() for s in short_texts if not s.normal and s.text.lower() not in stating}
    plain |= {s.lower() for s in chest_templates.symptoms}
    negating = {s.text.lower(): s.negates for s in chest_templates.normal_findings if s.negates}
    counts = {"positive": 0, "absent": 0}
    denied, sentences = 0, {"positive": 0, "absent": 0}
    for text, gold, shape in drawn:
        found = any(gold[lab] in ("positive", "uncertain") for lab in findings)
        if found:
            assert gold["no_finding"] == "absent", (text, gold)
        if shape in ("fragment", "label_free") and text.lower() in normal | stating and not found:
            assert gold["no_finding"] == "positive", text
        if shape in ("fragment", "label_free", "sentence") and text.lower() in plain:
            assert gold["no_finding"] == "absent", text
        if shape == "sentence":
            # "No pneumothorax." reports on the study and finds nothing.
            assert gold["no_finding"] == ("absent" if found else "positive"), (text, gold)
            sentences[gold["no_finding"]] += 1
        if shape in ("label_free", "label_free_report"):
            assert not found
            counts[gold["no_finding"]] += 1
        if shape == "label_free" and text.lower() in negating:
            # "Heart size is normal." names no label and states cardiomegaly negative.
            stated = negating[text.lower()]
            assert all(gold[lab] == "negative" for lab in stated), (text, gold)
            assert all(gold[lab] == "absent" for lab in findings if lab not in stated)
            assert gold["no_finding"] == "positive", text
            denied += 1
    assert min(counts.values()) >= 50 and min(sentences.values()) >= 50, (counts, sentences)
    assert denied >= 10


# ---- carrier items ----

CHEST = ROOT / "assets" / "schemas" / "chest_xray.yml"


def cue_regex(pattern: str) -> re.Pattern:
    # A negative or uncertain pattern, its slot any phrase, not glued to a word before it.
    parts = SLOT_RE.split(normalise(pattern.rstrip(".")))
    body = "".join(re.escape(p) if i % 2 == 0 else "[^.;]{1,120}?" for i, p in enumerate(parts))
    return re.compile((r"(?<![\w-])" if parts[0][:1].isalnum() else "") + body + r"(?![\w-])")


def said_state(text: str, cues) -> str:
    # What the text's cue says: the state of a negative or uncertain pattern it holds.
    states = {state for state, regex in cues if regex.search(normalise(text))}
    assert len(states) <= 1, (text, states)
    return states.pop() if states else "positive"


@pytest.mark.parametrize("path", [HEAD_CT, CHEST], ids=lambda p: p.stem)
def test_carrier_gold_is_what_the_cue_says(path):
    schema = load_schema(path)
    templates = load_templates(schema.templates, schema)
    drawn = items(ReportGenerator(schema, templates, carrier_ratio=1.0), 3000, "carrier")
    cues = [
        (f.state, cue_regex(p))
        for f in templates.families
        if f.kind == "single" and f.state != "positive" and not f.heldout
        for p in f.patterns
    ]
    regexes = {lab: templates.label_regex(schema, lab) for lab in schema.labels}
    states = set()
    for text, gold, shape in drawn:
        assert shape == CARRIER
        mentioned = [lab for lab, rx in regexes.items() if rx.search(text)]
        # The finding and the ancestors its variant spells ("subdural haemorrhage"): no
        # filler word names another label.
        deepest = [lab for lab in mentioned if not set(schema.descendants(lab)) & set(mentioned)]
        assert len(deepest) == 1, (text, mentioned)
        label = deepest[0]
        assert set(mentioned) <= {label, *schema.ancestors(label)}, (text, mentioned)
        state = said_state(text, cues)
        states.add(state)
        assert gold[label] == state, (text, gold[label], state)
        for other in schema.labels:
            if other == label:
                continue
            lifted = other in schema.ancestors(label) and state != "negative"
            assert gold[other] == (state if lifted else schema.negative_state), (text, other)
    assert states == {"positive", "negative", "uncertain"}


@pytest.mark.parametrize("path", [HEAD_CT, CHEST], ids=lambda p: p.stem)
def test_carrier_filler_holds_no_cue_and_no_variant(path):
    schema = load_schema(path)
    templates = load_templates(schema.templates, schema)
    generator = ReportGenerator(schema, templates)
    assert "not" in generator.cue_words and "possible" in generator.cue_words
    assert len(generator.neutral_words) >= 20
    variants = mention_regex([v for lab in schema.labels for v in schema.variants(lab)])
    for word in generator.neutral_words:
        assert word in NEUTRAL_WORDS and word.lower() not in cue_words(templates)
        assert not variants.search(word), word
    normality = re.compile(r"\b(?:no|not|normal|unremarkable|clear|likely|new|old|prior)\b")
    assert not [w for w in generator.neutral_words if normality.search(w.lower())]


def test_carrier_ratio_draws_its_share_and_zero_keeps_the_items(schema, templates):
    drawn = items(ReportGenerator(schema, templates, short_ratio=0.1, carrier_ratio=0.2), 3000)
    share = sum(shape == CARRIER for _, _, shape in drawn) / len(drawn)
    assert abs(share - 0.2) < 0.025
    plain = ReportGenerator(schema, templates, short_ratio=0.1)
    zero = ReportGenerator(schema, templates, short_ratio=0.1, carrier_ratio=0.0)
    assert items(plain, 200) == items(zero, 200)
    with pytest.raises(ValueError, match="carrier ratio"):
        ReportGenerator(schema, templates, carrier_ratio=-0.1)


def test_carrier_corpus_keeps_heldout_phrasing_out_of_train(tmp_path, schema, templates):
    out = tmp_path / "corpus"
    meta = write_corpus(schema, templates, out, n=2000, seed=9, n_heldout=300, carrier_ratio=0.5)
    assert meta["carrier_ratio"] == 0.5
    assert_no_heldout_phrasing(out, templates)


def test_cli_passes_the_carrier_ratio(tmp_path, cli):
    out = tmp_path / "corpus"
    args = ["synth", str(HEAD_CT), str(out), "--n", "40", "--n-heldout", "10", "--seed", "2"]
    result = CliRunner().invoke(cli, args + ["--carrier-ratio", "0.5"])
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "train.jsonl")
    assert json.loads((out / "meta.json").read_text())["carrier_ratio"] == 0.5
    assert sum(len(r["text"].split()) < 14 for r in records) >= 10


def test_denied_words_qualify_denied_mentions_only(chest):
    # "No focal consolidation, suspicious opacity or definite effusion.": every item denied.
    chest_schema, chest_templates, records, _ = chest
    checked = 0
    for site in chest_templates.sites.values():
        # A size word may also qualify a stated mention ("no change in the focal X").
        words = "|".join(re.escape(w) for w in set(site.denied) - set(site.sizes))
        for label in site.labels if words else []:
            variants = mention_regex(chest_schema.variants(label)).pattern
            frame = rf"(?:^|[.:]\s*)No [^.;]*?\b(?:{words}) (?:{variants})"
            denied = re.compile(frame, re.M | re.I)
            for record in records:
                if denied.search(record["text"]):
                    checked += 1
                    assert record["labels"][label] == "negative", (label, record["text"])
    assert checked >= 30


def test_deny_draws_nothing_for_a_site_without_denied_words():
    # Template files without `denied` words keep generating the same bytes.
    rng = random.Random(0)
    before = rng.getstate()
    assert deny(rng, "effusion", Site("pleura", ["pleural_effusion"])) == "effusion"
    assert deny(rng, "effusion", None) == "effusion"
    assert rng.getstate() == before
    site = Site("pleura", ["pleural_effusion"], denied=["definite", "large"])
    rendered = {deny(random.Random(seed), "large effusion", site) for seed in range(200)}
    assert rendered == {"large effusion", "definite large effusion"}


@pytest.mark.parametrize("share", [0.0, 0.4])
def test_differential_share_sets_how_often_reports_hedge_between_two(tmp_path, schema, share):
    path = write_templates(
        tmp_path, "name: head_ct\n", f"name: head_ct\ndifferential_share: {share}\n"
    )
    templates = load_templates(path, schema)
    assert templates.differential_share == share
    generator = ReportGenerator(schema, templates)
    rng = random.Random(0)
    kinds = [generator._main_unit(rng).kind for _ in range(2000)]
    # Unrelated label pairs only: a drawn pair of related labels falls back to one label.
    assert 0.8 * share <= kinds.count("differential") / len(kinds) <= share


@pytest.mark.parametrize("share", [0.0, 0.4])
def test_hedged_again_share_restates_a_positive_finding_hedged(tmp_path, schema, share):
    path = write_templates(
        tmp_path, "name: head_ct\n", f"name: head_ct\nhedged_again_share: {share}\n"
    )
    generator = ReportGenerator(schema, load_templates(path, schema))
    positive = Unit("single", ("subdural_haematoma",), "positive")
    placed = [generator._place(random.Random(seed), positive) for seed in range(500)]
    again = [units for units in placed if len(units) == 2]
    assert 0.8 * share <= len(again) / len(placed) <= 1.2 * share
    for units in again:
        committed, hedged = sorted(units, key=lambda u: u.state)
        assert (committed.state, hedged.state) == ("positive", "uncertain")
        assert hedged.labels == positive.labels and hedged.sections == committed.sections[:1]
    if share:
        # Either mention may come first.
        assert {units[0].state for units in again} == {"positive", "uncertain"}


def test_apart_words_put_the_place_between_qualifier_and_noun(schema, templates):
    # "acute left MCA territory infarct" is an acute infarct, as reports write it.
    site = templates.site_of("acute_ischaemic_stroke")
    apart = site.apart["acute_ischaemic_stroke"]
    rng = random.Random(0)
    phrases = [
        render_phrase(rng, "acute infarct", "acute_ischaemic_stroke", site) for _ in range(600)
    ]
    split = [p for p in phrases if "acute infarct" not in p]
    assert 0.2 <= len(split) / len(phrases) <= 0.4
    for phrase in split:
        # [size] word place noun
        pairs = [(w, n) for w in apart.words for n in apart.nouns if phrase.endswith(f" {n}")]
        places = {phrase.split(f"{w} ", 1)[1][: -len(n) - 1] for w, n in pairs if f"{w} " in phrase}
        assert places & set(site.pre), phrase
    # Denied mentions and labels without apart words keep their variant whole.
    assert all(
        render_phrase(rng, "acute infarct", "acute_ischaemic_stroke", site, negated=True).endswith(
            "acute infarct"
        )
        for _ in range(100)
    )
    assert all("tumour" in render_phrase(rng, "tumour", "tumour", site) for _ in range(100))
    regex = templates.label_regex(schema, "old_ischaemic_stroke")
    assert regex.search("Established left MCA territory infarct.")
    assert not regex.search("Acute left MCA territory infarct.")
