"""A negation and uncertainty cue lexicon, and the scope features it gives each token.

The lexicon is written from the NegEx trigger lists (Chapman et al. 2001) and the lemmas of
NegBio's and CheXpert's negation and uncertainty patterns, not from this package's
templates: it tells the model what a cue is for cue words that no template uses ("nothing to
suggest X", "X is no longer seen"). `cue_features` gives every token one small integer: its
own cue kind and whether it lies in the scope of a negation, uncertainty or committed-hedge
("likely") cue, and from version 4 whether it lies in the clinical details (a section under
an "INDICATION:" or "CLINICAL HISTORY:" heading, which asserts nothing). The values are part
of trained models (`spacy-radlabels.CueMultiHashEmbed.vN` reads version N of the lexicon):
change the lexicon or the rules only as a new version.
"""

from dataclasses import dataclass, field, replace
from itertools import chain
from string import ascii_lowercase
from typing import Dict, FrozenSet, List, Set, Tuple

from spacy.tokens import Doc

# Cue kinds: a token's own role. PROBABLE marks the committed hedges ("likely X"), which
# one schema's conventions read as positive and another's (CheXpert) as uncertain.
NONE, NEGATION, UNCERTAINTY, PROBABLE, PSEUDO, TERMINATOR = range(6)
SCOPED = (NEGATION, UNCERTAINTY, PROBABLE)
# A feature is kind * SCOPE_SETS + one bit per scope the token lies in.
SCOPE_SETS = 2 ** len(SCOPED)
N_FEATURES = (TERMINATOR + 1) * SCOPE_SETS
# Tokens a cue reaches, stopping early at a terminator.
WINDOW = 8
PRE, POST, BOTH = "pre", "post", "both"

# fmt: off

NEGATION_CUES = {
    PRE: [
        "no", "nil", "without", "negative for", "free of", "nothing", "none", "never",
        "absence of", "lack of", "resolution of", "removal of", "clear of", "neither", "nor",
    ],
    POST: ["excluded", "ruled out", "removed", "clear", "within normal limits"],
    BOTH: ["not", "absent", "negative", "resolved", "no longer", "normal", "unremarkable"],
}
UNCERTAINTY_CUES = {
    PRE: [
        "may", "might", "could", "would be", "suggest", "suggests", "suggested", "suggesting",
        "suggestive of", "concern for", "concerning for", "worrisome for", "question of",
        "consider", "considered", "favor", "favour", "favored", "favoured", "differential",
        "cannot exclude", "rule out", "r/o", "to exclude", "raises the possibility",
        "possibly", "perhaps", "suspicious", "suspicious for", "suspicious of",
    ],
    POST: [
        "cannot be excluded", "not excluded", "not be excluded", "not entirely excluded",
        "cannot be ruled out", "not ruled out", "not be ruled out", "questioned",
    ],
    BOTH: [
        "possible", "possibility", "unlikely", "suspected", "suspect", "suspicion",
        "questionable", "query", "?", "versus", "vs", "vs.", "and/or", "indeterminate",
        "equivocal", "uncertain", "not definitely",
    ],
}
PROBABLE_CUES = {
    PRE: ["likely", "most likely", "probably", "presumably"],
    BOTH: ["probable", "presumed"],
}
# Phrases that hold a cue word without negating or hedging a finding ("no change in").
PSEUDO_CUES = [
    "no change", "no interval change", "no significant change", "no significant interval change",
    "no increase", "no further", "not only", "without change", "without significant change",
    "not changed", "gram negative", "not necessarily",
]
TERMINATORS = [
    ".", ";", ":", "!", "but", "however", "although", "though", "except", "whereas", "while",
    "which", "yet", "apart from", "aside from", "nevertheless", "otherwise",
]
# Version 2. "Differential" hedges either side ("X is a differential consideration").
CHANGED_CUES_V2 = {"differential": (UNCERTAINTY, BOTH)}
# Words a multiword cue may hold inside it ("cannot be entirely excluded").
INNER_WORDS_V2 = [
    "entirely", "completely", "totally", "fully", "definitely", "definitively", "confidently",
    "reliably", "absolutely", "conclusively", "certainly",
]
# Hedge verbs a negation takes over right after it or after "to" (NegBio's "no NN to
# suggest/explain XXX"): "nothing to suggest X", "not suggestive of X" negate X.
NEGATED_HEDGES_V2 = ["suggest", "suggests", "suggested", "suggesting", "suggestive of"]
# A line that starts with one of these (or a digit, or a capitalised word) starts a new
# statement; any other line break wraps a sentence and keeps the scope going.
BULLETS = ("-", "*", "\u2022", "+", "#")
# Version 3. A word of a negation or hedge cue misspelt by one slip still counts ("Notihng
# to suggest X", "remains a possbiility"): two letters swapped in a word of TYPO_SWAP
# letters or more, one dropped, added or changed in one of TYPO_EDIT or more; never the
# first or last letter, whose slips make other words ("arises", "suspects").
TYPO_SWAP, TYPO_EDIT = 6, 8
# Real words one slip from a cue word.
NOT_TYPOS_V3 = ["entirety", "revolution", "suspicions"]
# Version 4. A heading is up to HEADING_WORDS words and a colon (`_heading_start`); one with
# any of these words opens the clinical details, which end at the next heading or statement
# line (the reason for the study names what to look for, not what was seen).
HEADING_WORDS = 4
CLINICAL_HEADING_WORDS = [
    "indication", "indications", "history", "clinical", "reason", "hx", "pmh", "complaint",
]
SECTION_WORDS = CLINICAL_HEADING_WORDS + [
    "findings", "impression", "report", "comparison", "conclusion", "technique", "summary",
]
# fmt: on

Entry = Tuple[Tuple[str, ...], int, str]


def _words(cue: str) -> Tuple[str, ...]:
    """Split a cue into the words spaCy's tokenizer gives ("cannot" is "can" "not")."""
    return tuple(cue.replace("cannot", "can not").split())


def _slips(word: str) -> Set[str]:
    """Return the misspellings of `word` that version 3 reads as it (see TYPO_SWAP)."""
    slips = set()
    if len(word) >= TYPO_SWAP:
        swaps = range(1, len(word) - 2)
        slips.update(word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in swaps)
    if len(word) >= TYPO_EDIT:
        for i in range(1, len(word) - 1):  # drop or change an inner letter
            slips.add(word[:i] + word[i + 1 :])
            slips.update(word[:i] + c + word[i + 1 :] for c in ascii_lowercase)
        for i in range(1, len(word)):  # add one between the first and the last
            slips.update(word[:i] + c + word[i:] for c in ascii_lowercase)
    slips.discard(word)
    return slips


def _typos() -> Dict[str, str]:
    """Map each misspelling of a negation or hedge cue word to the word (one slip away).

    A misspelling of two cue words, or one that is a cue word itself or a real word
    (NOT_TYPOS_V3), is left out.

    RETURNS (Dict[str, str]): Misspelling -> cue word.
    """
    polar = [NEGATION_CUES, UNCERTAINTY_CUES, PROBABLE_CUES]
    words = {word for cues in polar for cue in chain(*cues.values()) for word in _words(cue)}
    known = {word for entries in _index({}).values() for cue, _, _ in entries for word in cue}
    sources: Dict[str, Set[str]] = {}
    for word in words:
        for slip in _slips(word):
            sources.setdefault(slip, set()).add(word)
    return {
        slip: next(iter(of))
        for slip, of in sources.items()
        if len(of) == 1 and slip not in known and slip not in NOT_TYPOS_V3
    }


def _index(changes: Dict[str, Tuple[int, str]]) -> Dict[str, List[Entry]]:
    """Index every cue by its first word, longest first, for longest-match lookup.

    changes (Dict[str, Tuple[int, str]]): Cues whose (kind, direction) a version changes.
    RETURNS (Dict[str, List[Entry]]): The cues by first word.
    """
    entries = [(c, NEGATION, d) for d, cues in NEGATION_CUES.items() for c in cues]
    entries += [(c, UNCERTAINTY, d) for d, cues in UNCERTAINTY_CUES.items() for c in cues]
    entries += [(c, PROBABLE, d) for d, cues in PROBABLE_CUES.items() for c in cues]
    entries += [(c, PSEUDO, PRE) for c in PSEUDO_CUES]
    entries += [(c, TERMINATOR, PRE) for c in TERMINATORS]
    by_words = {_words(cue): (kind, direction) for cue, kind, direction in entries}
    by_words.update({_words(cue): change for cue, change in changes.items()})
    index: Dict[str, List[Entry]] = {}
    for words, (kind, direction) in by_words.items():
        index.setdefault(words[0], []).append((words, kind, direction))
    for matches in index.values():
        matches.sort(key=lambda match: -len(match[0]))
    return index


@dataclass(frozen=True)
class Lexicon:
    """One version of the cue lexicon and of the rules that read it.

    index (Dict[str, List[Entry]]): The cues by first word, longest first.
    inner_words (FrozenSet[str]): Words a multiword cue may hold inside it.
    negated_hedges (FrozenSet[Tuple[str, ...]]): Hedge cues that a negation takes over.
    wrapped_lines (bool): Whether a line break inside a sentence keeps a scope going.
    typos (Dict[str, str]): Misspelt cue words, read as the word they misspell.
    sections (bool): Whether tokens in the clinical details get their own features.
    """

    index: Dict[str, List[Entry]]
    inner_words: FrozenSet[str]
    negated_hedges: FrozenSet[Tuple[str, ...]]
    wrapped_lines: bool
    typos: Dict[str, str] = field(default_factory=dict)
    sections: bool = False

    @property
    def n_features(self) -> int:
        """The number of feature values: one set per side of the clinical details."""
        return N_FEATURES * (2 if self.sections else 1)


LEXICONS = {
    1: Lexicon(_index({}), frozenset(), frozenset(), wrapped_lines=False),
    2: Lexicon(
        _index(CHANGED_CUES_V2),
        frozenset(INNER_WORDS_V2),
        frozenset(_words(cue) for cue in NEGATED_HEDGES_V2),
        wrapped_lines=True,
    ),
    3: Lexicon(
        _index(CHANGED_CUES_V2),
        frozenset(INNER_WORDS_V2),
        frozenset(_words(cue) for cue in NEGATED_HEDGES_V2),
        wrapped_lines=True,
        typos=_typos(),
    ),
}
LEXICONS[4] = replace(LEXICONS[3], sections=True)
LATEST = max(LEXICONS)


def _match(lowered: List[str], start: int, words: Tuple[str, ...], inner: FrozenSet[str]) -> int:
    """Return where the cue `words` ends if it starts at `start` (inner words allowed), or -1."""
    i = start
    for n, word in enumerate(words):
        while n and i < len(lowered) and lowered[i] != word and lowered[i] in inner:
            i += 1
        if i == len(lowered) or lowered[i] != word:
            return -1
        i += 1
    return i


def _ends_statement(doc: Doc, i: int) -> bool:
    """Whether the line break at token i starts a new statement rather than wrap a sentence."""
    if doc[i].text.count("\n") > 1 or i + 1 == len(doc):
        return True
    following = doc[i + 1]
    return following.is_title or following.text[0].isdigit() or following.text.startswith(BULLETS)


def _heading_start(doc: Doc, colon: int) -> int:
    """Return where the heading that ends at the colon token `colon` starts, or -1.

    The longest run of words before the colon that is in capitals ("CT Head CLINICAL
    DETAILS:"), starts a line or statement ("Clinical history:"), or starts with a capital
    and holds a section word ("CT BRAIN (NON-CONTRAST) Clinical details:").
    """
    start = colon
    while start > 0 and colon - start < HEADING_WORDS and doc[start - 1].is_alpha:
        start -= 1
    for first in range(start, colon):
        words = doc[first:colon]
        if all(token.is_upper for token in words) and len(words.text) > 2:
            return first
        before = doc[first - 1] if first else None
        if before is None or "\n" in before.text or before.text in (".", "?", "!", ";"):
            return first
        if words[0].is_title and any(token.lower_ in SECTION_WORDS for token in words):
            return first
    return -1


def clinical_sections(doc: Doc) -> List[bool]:
    """Mark the tokens of the clinical details: after a clinical heading's colon, up to the
    next heading or a line break that starts a new statement (see CLINICAL_HEADING_WORDS).

    doc (Doc): The tokens.
    RETURNS (List[bool]): Per token, whether it lies in the clinical details.
    """
    inside = [False] * len(doc)
    clinical = False
    for i, token in enumerate(doc):
        if token.text == ":":
            start = _heading_start(doc, i)
            if start != -1:
                inside[start:i] = [False] * (i - start)
                heading = {word.lower_ for word in doc[start:i]}
                clinical = not heading.isdisjoint(CLINICAL_HEADING_WORDS)
                continue
        if clinical and not token.text.strip() and "\n" in token.text:
            clinical = not _ends_statement(doc, i)
        inside[i] = clinical
    return inside


def cue_features(doc: Doc, version: int = LATEST) -> List[int]:
    """Give each token its cue kind and scope as one integer in [0, lexicon.n_features).

    Cues match longest first, so "cannot be excluded" hedges rather than negates and "no
    change in the effusion" (a pseudo-cue) leaves "effusion" out of scope. A scope reaches
    WINDOW tokens after a "pre" cue and before a "post" one, and ends early at a terminator
    (a full stop, "but", a line break). A "?" glued to the next word hedges it ("?SAH"),
    otherwise the words before it ("SAH? No bleed"). Scopes may overlap ("nothing to
    suggest X": negated and hedged); the model learns what each combination means.
    Version 2 also lets a multiword cue hold an intensifier ("cannot be entirely excluded"),
    lets a negation take over "suggest" ("nothing to suggest X" negates), hedges either side
    of "differential", and ends a scope at a line break only where a new statement starts.
    Version 3 also reads a negation or hedge word misspelt by one slip as that word.
    Version 4 also adds N_FEATURES to the feature of a token in the clinical details
    (`clinical_sections`).

    doc (Doc): The tokens.
    version (int): The version of the lexicon and rules, a key of LEXICONS.
    RETURNS (List[int]): Per token, its kind * 8 + a bit per scope it lies in (1 negation,
        2 uncertainty, 4 probable), + N_FEATURES in the clinical details (version 4).
    """
    lexicon = LEXICONS[version]
    lowered = [lexicon.typos.get(word, word) for word in (token.lower_ for token in doc)]
    kinds = [NONE] * len(doc)
    cues: List[Tuple[int, int, int, str]] = []  # start, end, kind, direction
    i = 0
    while i < len(lowered):
        word = lowered[i]
        if not word.strip() and "\n" in word:
            if not lexicon.wrapped_lines or _ends_statement(doc, i):
                kinds[i] = TERMINATOR
            i += 1
            continue
        for cue_words, kind, direction in lexicon.index.get(word, ()):
            end = _match(lowered, i, cue_words, lexicon.inner_words)
            if end != -1:
                kinds[i:end] = [kind] * (end - i)
                if cue_words == ("?",):
                    direction = POST if doc[i].whitespace_ or i + 1 == len(doc) else PRE
                cues.append((i, end, kind, direction))
                i = end
                break
        else:
            i += 1
    # One bit per scoped kind: bit 0 negation, bit 1 uncertainty, bit 2 probable. Negation
    # scopes come first, so that a hedge cue can see whether a negation takes it over.
    scopes = [0] * len(doc)
    for start, end, kind, direction in sorted(cues, key=lambda cue: cue[2] != NEGATION):
        if kind not in SCOPED:
            continue
        if (
            tuple(lowered[start:end]) in lexicon.negated_hedges
            and scopes[start] & 1
            and start > 0
            and (lowered[start - 1] == "to" or kinds[start - 1] == NEGATION)
        ):
            kinds[start:end] = [PSEUDO] * (end - start)
            continue
        bit = 1 << SCOPED.index(kind)
        reach = []
        if direction in (PRE, BOTH):
            reach.append(range(end, min(end + WINDOW, len(doc))))
        if direction in (POST, BOTH):
            reach.append(range(start - 1, max(start - 1 - WINDOW, -1), -1))
        for positions in reach:
            for j in positions:
                if kinds[j] == TERMINATOR:
                    break
                scopes[j] |= bit
    features = [kind * SCOPE_SETS + scope for kind, scope in zip(kinds, scopes)]
    if lexicon.sections:
        sections = clinical_sections(doc)
        features = [f + N_FEATURES * inside for f, inside in zip(features, sections)]
    return features
