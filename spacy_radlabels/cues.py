"""A negation and uncertainty cue lexicon, and the scope features it gives each token.

The lexicon is written from the NegEx trigger lists (Chapman et al. 2001) and the lemmas of
NegBio's and CheXpert's negation and uncertainty patterns, not from this package's
templates: it tells the model what a cue is for cue words that no template uses ("nothing to
suggest X", "X is no longer seen"). `cue_features` gives every token one small integer: its
own cue kind and whether it lies in the scope of a negation, uncertainty or committed-hedge
("likely") cue. The values are part of trained models (`spacy-radlabels.CueMultiHashEmbed.v1`):
change the lexicon or the rules only under a new architecture version.
"""

from typing import Dict, List, Tuple

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
# fmt: on


def _lexicon() -> Dict[str, List[Tuple[Tuple[str, ...], int, str]]]:
    """Index every cue by its first word, longest first, for longest-match lookup."""
    entries = [(c, NEGATION, d) for d, cues in NEGATION_CUES.items() for c in cues]
    entries += [(c, UNCERTAINTY, d) for d, cues in UNCERTAINTY_CUES.items() for c in cues]
    entries += [(c, PROBABLE, d) for d, cues in PROBABLE_CUES.items() for c in cues]
    entries += [(c, PSEUDO, PRE) for c in PSEUDO_CUES]
    entries += [(c, TERMINATOR, PRE) for c in TERMINATORS]
    index: Dict[str, List[Tuple[Tuple[str, ...], int, str]]] = {}
    for cue, kind, direction in entries:
        # spaCy splits "cannot" into "can" and "not".
        words = tuple(cue.replace("cannot", "can not").split())
        index.setdefault(words[0], []).append((words, kind, direction))
    for matches in index.values():
        matches.sort(key=lambda match: -len(match[0]))
    return index


LEXICON = _lexicon()


def cue_features(doc: Doc) -> List[int]:
    """Give each token its cue kind and scope as one integer in [0, N_FEATURES).

    Cues match longest first, so "cannot be excluded" hedges rather than negates and "no
    change in the effusion" (a pseudo-cue) leaves "effusion" out of scope. A scope reaches
    WINDOW tokens after a "pre" cue and before a "post" one, and ends early at a terminator
    (a full stop, "but", a line break). A "?" glued to the next word hedges it ("?SAH"),
    otherwise the words before it ("SAH? No bleed"). Scopes may overlap ("nothing to
    suggest X": negated and hedged); the model learns what each combination means.

    doc (Doc): The tokens.
    RETURNS (List[int]): Per token, its kind * 8 + a bit per scope it lies in (1 negation,
        2 uncertainty, 4 probable).
    """
    lowered = [token.lower_ for token in doc]
    kinds = [NONE] * len(doc)
    cues: List[Tuple[int, int, int, str]] = []  # start, end, kind, direction
    i = 0
    while i < len(lowered):
        word = lowered[i]
        if not word.strip() and "\n" in word:
            kinds[i] = TERMINATOR
            i += 1
            continue
        for cue_words, kind, direction in LEXICON.get(word, ()):
            if tuple(lowered[i : i + len(cue_words)]) == cue_words:
                kinds[i : i + len(cue_words)] = [kind] * len(cue_words)
                if cue_words == ("?",):
                    direction = POST if doc[i].whitespace_ or i + 1 == len(doc) else PRE
                cues.append((i, i + len(cue_words), kind, direction))
                i += len(cue_words)
                break
        else:
            i += 1
    # One bit per scoped kind: bit 0 negation, bit 1 uncertainty, bit 2 probable.
    scopes = [0] * len(doc)
    for start, end, kind, direction in cues:
        if kind not in SCOPED:
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
    return [kind * SCOPE_SETS + scope for kind, scope in zip(kinds, scopes)]
