"""Held-out phrasing cannot be assembled from seen parts, so the held-out set measures it.

A held-out frame leaks when its literal text occurs inside a seen pattern with any phrase in
the slots ("Eval {X}." inside "Eval for {X} or {Y}."); a held-out variant leaks when a seen
variant with the modifiers the generator adds, or a seen pattern around it, spells it
("dense" + "consolidation") or a seen pattern's words before or after the slot do.
"""

import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

from spacy_radlabels.schema import Schema, load_schema
from spacy_radlabels.synth import load_templates
from spacy_radlabels.synth.generator import SCOPE_JOINS
from spacy_radlabels.synth.templates import SLOT_RE, Templates, mention_regex

from .conftest import template_text

ROOT = Path(__file__).parent.parent
SCHEMAS = [ROOT / "assets" / "schemas" / name for name in ("head_ct.yml", "chest_xray.yml")]
# A phrase in a slot: any words, as the generator may put there.
FILLER = "zzz"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def frame_regex(pattern: str) -> re.Pattern:
    # "Eval {X}." -> r"\beval [^.;]{1,120}?\.": the pattern with any phrase in its slots.
    parts = SLOT_RE.split(normalise(pattern))
    body = "".join(re.escape(p) if i % 2 == 0 else "[^.;]{1,120}?" for i, p in enumerate(parts))
    return re.compile((r"(?<![\w-])" if parts[0][:1].isalnum() else "") + body)


def seen_sentences(templates: Templates) -> List[str]:
    """Every seen pattern with a filler in its slots, alone and after a scope join."""
    slots = {"X": FILLER, "Y": FILLER, "F": FILLER}
    slots.update(X_or=f"{FILLER} or {FILLER}", X_and=f"{FILLER} and {FILLER}")
    sentences = []
    for family in templates.families:
        if family.heldout:
            continue
        for pattern in family.patterns:
            text = normalise(SLOT_RE.sub(lambda m: slots[m.group(1)], pattern))
            sentences.append(text)
            sentences.extend(f"{FILLER}{join.lower()}{text}" for join in SCOPE_JOINS)
    normal = templates.normal_findings + templates.normal_impression
    sentences.extend(normalise(s.text) for s in normal)
    sentences.extend(normalise(s) for s in templates.symptoms)
    return sentences


def seen_phrases(schema: Schema, templates: Templates, label: str) -> Set[str]:
    """A seen variant of a label with each modifier the generator may put around it."""
    held = set(templates.heldout_variants.get(label, []))
    site = templates.site_of(label)
    phrases = set()
    for variant in schema.variants(label):
        if variant in held:
            continue
        phrases.add(variant)
        if site is None:
            continue
        before = site.sizes + site.pre + site.temporal.get(label, [])
        after = site.post + [m.format(n=5, m=3) for m in site.measures]
        phrases.update(f"{word} {variant}" for word in before)
        phrases.update(f"{size} {word} {variant}" for size in site.sizes for word in before)
        phrases.update(f"{variant} {word}" for word in after)
    if site is not None and label in site.apart:
        apart = site.apart[label]
        phrases.update(
            f"{word} {place} {noun}"
            for word in apart.words
            for place in site.pre
            for noun in apart.nouns
        )
    return {normalise(p) for p in phrases}


def slot_edges(templates: Templates) -> Tuple[Set[str], Set[str]]:
    """The word sequences that end right before a slot and start right after one."""
    before, after = {""}, {""}
    for family in templates.families:
        if family.heldout:
            continue
        for pattern in family.patterns:
            parts = SLOT_RE.split(normalise(pattern))
            for i in range(1, len(parts), 2):
                left, right = parts[i - 1].split(), parts[i + 1].split()
                before.update(" ".join(left[-k:]) for k in range(1, len(left) + 1))
                after.update(" ".join(right[:k]) for k in range(1, len(right) + 1))
    return before, after


def pattern_leaks(templates: Templates) -> Iterator[str]:
    seen = seen_sentences(templates)
    for family in templates.families:
        if family.heldout:
            for pattern in family.patterns:
                regex = frame_regex(pattern)
                hits = [sentence for sentence in seen if regex.search(sentence)]
                if hits:
                    yield f"held-out pattern '{pattern}' ({family.id}) is in seen '{hits[0]}'"


def variant_leaks(schema: Schema, templates: Templates) -> Iterator[str]:
    phrases = {p for label in schema.labels for p in seen_phrases(schema, templates, label)}
    starts = {" ".join(p.split()[:k]) for p in phrases for k in range(1, len(p.split()) + 1)}
    ends = {" ".join(p.split()[-k:]) for p in phrases for k in range(1, len(p.split()) + 1)}
    before, after = slot_edges(templates)
    for label, held in templates.heldout_variants.items():
        regex = mention_regex(held)
        inside = [p for p in phrases if regex.search(p)]
        if inside:
            yield f"held-out variant of '{label}' is in the seen phrase '{inside[0]}'"
        for variant in held:
            words = normalise(variant).split()
            for k in range(1, len(words)):
                head, tail = " ".join(words[:k]), " ".join(words[k:])
                if head in before and tail in starts:
                    yield f"held-out variant '{variant}' is '{head}' + a seen phrase"
                if head in ends and tail in after:
                    yield f"held-out variant '{variant}' is a seen phrase + '{tail}'"


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_no_heldout_phrasing_from_seen_parts(path):
    schema = load_schema(path)
    templates = load_templates(schema.templates, schema)
    found = list(pattern_leaks(templates)) + list(variant_leaks(schema, templates))
    assert not found, "\n".join(found)


def test_the_check_finds_known_leaks(tmp_path):
    # The leaks this test was written for, put back: each must be found.
    schema = load_schema(SCHEMAS[1])
    text = template_text(schema.templates)
    text = text.replace('"Evaluate for {X}."', '"Evaluate for {X}.", "Eval for {X} or {Y}."')
    text = text.replace(
        'patterns: ["Concern for {X}."', 'patterns: ["Eval {X}.", "Concern for {X}."'
    )
    path = tmp_path / "chest_xray.yml"
    path.write_text(text, encoding="utf8")
    found = list(pattern_leaks(load_templates(path, schema)))
    assert any("'Eval {X}.'" in leak and "eval for zzz or zzz." in leak for leak in found)
    text = text.replace(
        "consolidation: [airspace consolidation]", "consolidation: [dense consolidation]"
    )
    path.write_text(text, encoding="utf8")
    found = list(variant_leaks(schema, load_templates(path, schema)))
    assert any(
        leak.startswith("held-out variant of 'consolidation'") and "dense consolidation" in leak
        for leak in found
    )
