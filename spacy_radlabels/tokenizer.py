"""Tokenizer rules for report text: numbered items and sentences glued without a space.

Dictated and exported impressions write "1.mild edema 2.no effusion", "effusion;4.PICC line"
or "pneumothorax.lungs clear". spaCy's English infixes leave "1.mild", "2.no" and
"pneumothorax.lungs" whole (they look like web addresses to its URL rule), so the cue word
"no" and the finding word are unseen. The rules are added in `[initialize.before_init]`,
so a trained pipeline saves them with its tokenizer and loads without this package's code.
"""

import re
from typing import Callable

from spacy.language import Language
from spacy.util import compile_infix_regex, registry

REPORT_INFIXES = (
    # "1.mild", "2)effusion": a list number glued to its item.
    r"(?<=[0-9])[.)](?=[A-Za-z])",
    # "pneumothorax.lungs": a full stop between words (two letters each side keeps "e.g.").
    r"(?<=[A-Za-z]{2})\.(?=[A-Za-z]{2})",
    # "edema.2.no": a full stop before the next item's number.
    r"(?<=[A-Za-z])\.(?=[0-9]+[.)])",
    # "effusion;4.PICC", "IMPRESSION:1.": a semicolon or colon glued to what follows.
    r"(?<=[A-Za-z])[;:](?=[0-9A-Za-z])",
)
# Only text that says it is a web address is one; "1.mild" and "edema.no" are not.
URL_RE = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$")
# Emoticons that read as a header glued to an item number ("IMPRESSION:1.").
DIGIT_EMOTICON_RE = re.compile(r"^:-?[0-9]$")


def add_report_infixes(nlp: Language) -> Language:
    """Add the report infixes to a pipeline's tokenizer.

    nlp (Language): The pipeline.
    RETURNS (Language): The same pipeline, its tokenizer splitting glued items and
        matching only explicit web addresses as URLs.
    """
    infixes = list(nlp.Defaults.infixes or []) + list(REPORT_INFIXES)
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    nlp.tokenizer.url_match = URL_RE.match
    rules = nlp.tokenizer.rules or {}
    nlp.tokenizer.rules = {k: v for k, v in rules.items() if not DIGIT_EMOTICON_RE.match(k)}
    return nlp


@registry.callbacks("spacy-radlabels.report_tokenizer.v1")
def make_report_tokenizer() -> Callable[[Language], Language]:
    """Make the `[initialize.before_init]` callback that adds the report infixes.

    RETURNS (Callable[[Language], Language]): The callback.
    """
    return add_report_infixes
