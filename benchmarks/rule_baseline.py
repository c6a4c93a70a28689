"""The rule baseline a user could assemble from spaCy tools today, from a label schema.

An `entity_ruler` matches the schema's lexical variants (case-insensitive), negspacy's
`negex` (default `en_clinical` termset) marks negated matches, and a label counts as
positive when it has a match that is not negated. Like negspacy, it has no uncertainty
class: a hedged mention ("possible pneumonia") is positive unless a negation cue covers it
(negspacy counts e.g. "cannot", "versus", "rule out" as negation). The schema's hierarchy
is applied (a positive child makes its parent positive), and a summary label (group
"summary", CheXpert's No Finding) is positive when no "finding" label is.
"""

from typing import Set

import negspacy.negation  # noqa: F401  (registers the "negex" factory)
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from spacy_radlabels.schema import Schema
from spacy_radlabels.synth.generator import FINDING_GROUP, SUMMARY_GROUP


def build_rule_baseline(schema: Schema, lang: str = "en") -> Language:
    """Build the phrase-matcher + negex pipeline for a schema.

    schema (Schema): Supplies the labels and their lexical variants.
    lang (str): The tokenizer language.
    RETURNS (Language): sentencizer -> entity_ruler -> negex.
    """
    nlp = spacy.blank(lang)
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    stated = [label for label in schema.labels if schema.group(label) != SUMMARY_GROUP]
    ruler.add_patterns(
        [
            {"label": label, "pattern": variant}
            for label in stated
            for variant in schema.variants(label)
        ]
    )
    nlp.add_pipe("negex", config={"ent_types": stated})
    return nlp


def positive_labels(doc: Doc, schema: Schema) -> Set[str]:
    """Read the positive labels off a doc processed by the rule baseline.

    doc (Doc): A doc from `build_rule_baseline(schema)`.
    schema (Schema): The same schema.
    RETURNS (Set[str]): The labels with a non-negated mention, their ancestors, and the
        summary labels when no finding is positive.
    """
    found = {ent.label_ for ent in doc.ents if not ent._.negex}
    for label in list(found):
        found.update(schema.ancestors(label))
    if not any(schema.group(label) == FINDING_GROUP for label in found):
        found.update(label for label in schema.labels if schema.group(label) == SUMMARY_GROUP)
    return found
