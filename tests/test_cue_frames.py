"""Cue frames from the real inventories give the gold DESIGN.md's conventions give them."""

import random
import re
from pathlib import Path

import pytest

from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import ReportGenerator, load_templates
from spacy_radlabels.synth.generator import RANK

ROOT = Path(__file__).parent.parent
SCHEMAS = {name: ROOT / "assets" / "schemas" / f"{name}.yml" for name in ("head_ct", "chest_xray")}
# A phrase from the start of its sentence (or list item) to the cue, without a clause break.
START = r"(?:^|[.:;] *|\d[.)] *)"
PHRASE = r"([^.;:?,\n]{3,80}?)"
# Frame (regex with a phrase group per slot) -> the state of each slot's label. No single
# uncertain frame: the impression may sharpen or withdraw a hedge of the findings.
FRAMES = [
    (rf"{PHRASE},? in keeping with {PHRASE}\.", ("positive", "positive")),
    (rf"{PHRASE} likely representing {PHRASE}\.", ("positive", "positive")),
    (rf"{PHRASE}, reducing in density\.", ("positive",)),
    (rf"{PHRASE} is again noted, with no new effusion\.", ("positive",)),
    (rf"{PHRASE} is unchanged; no new nodules\.", ("positive",)),
    (rf"{PHRASE} and/or {PHRASE}\.", ("uncertain", "uncertain")),
    (rf"{PHRASE}, less likely {PHRASE}\.", ("uncertain", "uncertain")),
    (rf"no development of {PHRASE}\.", ("negative",)),
    (rf"{PHRASE} has since resolved\.", ("negative",)),
    (rf"there is no {PHRASE} to explain the symptoms\.", ("negative",)),
]


@pytest.fixture(scope="module", params=sorted(SCHEMAS))
def corpus(request):
    schema = load_schema(SCHEMAS[request.param])
    templates = load_templates(schema.templates, schema)
    generator = ReportGenerator(schema, templates)
    rng = random.Random(21)
    return schema, templates, [generator.generate(rng) for _ in range(3000)]


def label_of(schema, templates, phrase: str):
    # The one label a phrase names (the most specific, where a variant contains its parent's).
    found = [lab for lab in schema.labels if templates.label_regex(schema, lab).search(phrase)]
    specific = [lab for lab in found if not set(schema.descendants(lab)) & set(found)]
    return specific[0] if len(specific) == 1 else None


def test_cue_frames_have_the_conventions_gold(corpus):
    schema, templates, reports = corpus
    checked = 0
    for pattern, states in FRAMES:
        regex = re.compile(START + pattern, re.IGNORECASE)
        for text, gold in reports:
            for match in regex.finditer(re.sub(r"\s+", " ", text)):
                for phrase, state in zip(match.groups(), states):
                    label = label_of(schema, templates, phrase)
                    if label is None or schema.group(label) == "summary":
                        continue
                    if len(templates.label_regex(schema, label).findall(text)) > 1:
                        continue  # stated again elsewhere: the impression may overrule
                    checked += 1
                    # An ancestor may be raised by a more certain child elsewhere (or by a
                    # child whose typo hides it from label_of).
                    raised = any(
                        RANK[gold[child]] >= RANK[gold[label]] > RANK[state]
                        for child in schema.descendants(label)
                    )
                    assert gold[label] == state or raised, (pattern, label, text)
    assert checked >= 100
