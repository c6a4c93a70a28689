"""Sentence rendering: label phrases with their modifiers, slot filling and surface noise."""

import random
import re
from typing import Dict, List, Optional, Sequence

from .templates import SLOT_RE, Site

# Probabilities of each modifier of a label phrase.
P_SIZE = 0.3
P_TEMPORAL = 0.3
P_PRE = 0.3
P_POST = 0.3
P_MEASURE = 0.15
P_DENIED = 0.25
P_APART = 0.3
# A variant this long already says where it is ("blood in the basal cisterns").
MAX_WORDS_FOR_LOCATION = 2
WORD_RE = re.compile(r"[A-Za-z]{7,}")


def render_phrase(
    rng: random.Random,
    variant: str,
    label: str,
    site: Optional[Site],
    modifiers: bool = True,
    negated: bool = False,
) -> str:
    """Render one mention of a label: [size] [temporal] [pre-location] variant [post].

    A label with `apart` words in its site is sometimes rendered [size] word place noun
    instead ("large acute left MCA territory infarct").

    rng (random.Random): The random source.
    variant (str): The lexical variant naming the label.
    label (str): The label, to look up its temporal words.
    site (Optional[Site]): The label's site, or None to render the variant bare.
    modifiers (bool): Whether to add modifiers at all.
    negated (bool): The mention is denied: only a temporal word or one of the site's
        `denied` words fits ("no acute SDH", "no definite effusion").
    RETURNS (str): The phrase.
    """
    if site is None or not modifiers:
        return variant
    temporal = site.temporal.get(label)
    if negated:
        if temporal and rng.random() < P_TEMPORAL:
            return f"{rng.choice(temporal)} {variant}"
        return deny(rng, variant, site)
    words = variant.lower().split()
    before: List[str] = []
    after: List[str] = []
    if site.sizes and rng.random() < P_SIZE:
        size = rng.choice(site.sizes)
        if size.lower() not in words:
            before.append(size)
    apart = site.apart.get(label)
    if apart and rng.random() < P_APART:
        return " ".join(before + [rng.choice(w) for w in (apart.words, site.pre, apart.nouns)])
    if temporal and rng.random() < P_TEMPORAL:
        before.append(rng.choice(temporal))
    if len(words) <= MAX_WORDS_FOR_LOCATION:
        if site.pre and rng.random() < P_PRE:
            before.append(rng.choice(site.pre))
        elif site.post and rng.random() < P_POST:
            after.append(rng.choice(site.post))
    if site.measures and rng.random() < P_MEASURE:
        n = rng.randint(3, 25)
        after.append(rng.choice(site.measures).format(n=n, m=rng.randint(2, n)))
    return " ".join(before + [variant] + after)


def deny(rng: random.Random, variant: str, site: Optional[Site]) -> str:
    """Sometimes qualify a denied mention with one of its site's `denied` words.

    rng (random.Random): The random source; not drawn from when the site has no such words.
    variant (str): The lexical variant naming the label.
    site (Optional[Site]): The label's site.
    RETURNS (str): "definite effusion", or the variant as it was.
    """
    if site is None or not site.denied or rng.random() >= P_DENIED:
        return variant
    word = rng.choice(site.denied)
    repeats = set(word.lower().split()) & set(variant.lower().split())
    return variant if repeats else f"{word} {variant}"


def join_list(items: Sequence[str], conjunction: str) -> str:
    """Coordinate phrases: "A", "A or B", "A, B or C".

    items (Sequence[str]): The phrases.
    conjunction (str): "or" or "and".
    RETURNS (str): The coordinated phrase.
    """
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def capitalise(text: str) -> str:
    """Upper-case the first letter of a sentence.

    text (str): The sentence.
    RETURNS (str): The sentence with a capital first letter.
    """
    return text[:1].upper() + text[1:]


def decapitalise(text: str) -> str:
    """Lower-case a clause's first letter unless it starts an abbreviation ("SAH").

    text (str): The clause.
    RETURNS (str): The clause as it reads after "; " or ", but ".
    """
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def fill(pattern: str, slots: Dict[str, str]) -> str:
    """Replace the slots of a pattern and capitalise the sentence.

    pattern (str): A pattern such as "There is {X}.".
    slots (Dict[str, str]): Slot name -> phrase.
    RETURNS (str): The sentence.
    """
    return capitalise(SLOT_RE.sub(lambda m: slots[m.group(1)], pattern))


def add_line_breaks(rng: random.Random, text: str, n: int) -> str:
    """Break lines mid-sentence, as reports pasted from dictation do.

    rng (random.Random): The random source.
    text (str): The text.
    n (int): How many spaces to turn into line breaks.
    RETURNS (str): The text with line breaks.
    """
    spaces = [i for i, char in enumerate(text) if char == " "]
    if not spaces:
        return text
    chars = list(text)
    for i in rng.sample(spaces, min(n, len(spaces))):
        chars[i] = "\n"
    return "".join(chars)


def add_typo(rng: random.Random, text: str) -> str:
    """Swap two inner letters of one long word (a typing slip).

    rng (random.Random): The random source.
    text (str): The text.
    RETURNS (str): The text with at most one typo.
    """
    words = list(WORD_RE.finditer(text))
    if not words:
        return text
    match = rng.choice(words)
    word = match.group()
    i = rng.randint(1, len(word) - 3)
    slipped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return text[: match.start()] + slipped + text[match.end() :]
