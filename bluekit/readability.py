"""Is a profile still a user profile? Text measures reported beside the rank metrics.

A reward that ranks the next item can teach the profiler to describe that item instead of the
user ("This knit sweater is knit by the knit of a woolen yarn."): the rank rises and the profile
stops being a profile. These per-profile measures catch that:

- ``describes_item``: the text is about a product, not a person (see :func:`describes_item`);
- ``repetitive``: a content word three or more times, or a word 3-gram twice;
- ``history_coverage`` (needs the embedder): the share of the user's own history items in the
  profile's top-50 over the catalogue; a profile of the user retrieves their history, a
  description of one item retrieves one item;
- ``quiz_accuracy`` and ``fluency`` (need the frozen base profiler as reader): :mod:`bluekit.quiz`.

Shares come with a 95% bootstrap CI (:func:`bluekit.evaluate.bootstrap_ci`) and methods are compared user by
user with :func:`bluekit.evaluate.paired_test`, the same test as the rank metrics.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

# The per-user columns (and summary keys, with _ci_low/_ci_high) a MethodResult gains when its
# profiles are measured (bluekit.pipeline.profiler_result): shares are 0/1 per user.
READABILITY_METRICS = ("item_description", "repetitive", "history_coverage", "quiz_accuracy", "fluency")
# Which direction is better, for tables and targets: item descriptions and repetition should fall.
LOWER_IS_BETTER = frozenset({"item_description", "repetitive"})

# Nouns that name the person a profile is about ("this child favors ...", "an outdoor enthusiast who").
PERSON_NOUNS = frozenset("""
user users customer customers shopper shoppers buyer buyers person people individual someone
somebody consumer consumers reader readers fan fans enthusiast enthusiasts lover lovers collector
collectors traveler travelers traveller travellers athlete athletes runner runners hiker hikers
parent parents mother father mom dad child kid kids man woman guy lady gentleman student
professional fashionista gardener cook chef gamer owner owners homeowner they he she
client clients patron patrons member visitor visitors diner diners guest guests adventurer
sailor sailors yogi yogis guru knitter knitters wearer wearers skier skiers swimmer swimmers cyclist
cyclists golfer golfers angler anglers camper campers climber climbers dancer dancers artist artists
baker bakers crafter crafters writer photographer teenager teen toddler girl boy men women family
""".split())
# Possessives ("their", "his", "the user's") make a clause about the person when what they own is
# a taste ("their style is", "the user's preferences are"), not a product ("this runner's shoes are").
PERSON_POSSESSIVES = frozenset("their his her my our your".split())
TASTE_NOUNS = frozenset("""
preference preferences taste tastes style styles interest interests favorite favorites favourite
favourites wardrobe choice choices purchase purchases habit habits need needs priority priorities
aesthetic focus passion passions hobby hobbies lifestyle personality shopping history activity
activities
""".split())
# Words that end a clause's subject: forms of be/have, verbs of taste and behaviour, and the
# verbs item descriptions use ("features", "offers"). A clause's subject is the words before the
# first of these (or before "who"/"that").
VERBS = frozenset("""
is are was were be been being am 's has have had seems seem appears appear looks look
likes like liked loves love loved enjoys enjoy enjoyed prefers prefer preferred favors favor
favored favours favour favoured appreciates appreciate appreciated values value valued seeks seek
sought wants want wanted needs need needed tends tend buys buy bought purchases purchase
purchased shops shop shopped wears wear wore owns own collects collect gravitates gravitate
leans lean opts opt chooses choose chose focuses focus searches search looks favours admires
admire admired cares care desires desire craves crave fancies adores adore adored follows
uses use used reads read plays play cooks travels travel hikes runs visits visit visited
dines dine eats eat spends spend spent explores explore explored prioritizes prioritize
offers offer offered features feature featured provides provide provided comes come combines
combine keeps keep makes make made adds add gives give delivers deliver includes include boasts
boast fits fit knit knits designed crafted suits suit brings bring showcases showcase blends
blend pairs pair works work helps help allows allow lets ensures ensure remains remain stays stay
becomes become can could will would should may might must
""".split())
# A clause that opens with one of these has the person as its unstated subject ("Loves trail runs").
TASTE_VERBS = frozenset("""
likes loves enjoys prefers favors favours appreciates values seeks wants buys purchases shops wears
collects gravitates leans opts chooses admires adores craves fancies tends follows needs
""".split())
SUBJECT_ENDERS = frozenset({"who", "that", "which", "whose"})
PREPOSITIONS = frozenset("of for with in from by among to on at about".split())
DETERMINERS = frozenset("this these that those the a an its it".split())
STOPWORDS = frozenset("""
a an the and or but of for to in on at by with from as is are was were be been this that these
those it its their they them he she his her who whom which what user users s has have had not no
very more most also into than then so such both each other any all some one two three a's i
""".split())

_CLAUSE_SPLIT = re.compile(r"[.!?;:\n]+|\s[-–—]\s")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def clause_subjects(text: str) -> list[tuple[str, str]]:
    """Each clause: what it is about ("person" | "item" | "none"), its subject, its word count.

    A clause's subject is the words before its first verb (or "who"/"that"). It is a person when
    its head word, or a possessive in it, names one ("this user", "the user's taste", "their
    style", "an outdoor enthusiast who"); otherwise, when the clause has a verb or opens with a
    determiner ("This knit beanie ..."), it is an item; a verbless fragment is "none".

    >>> clause_subjects("This user's taste leans sporty. This rain jacket is breathable.")
    [('person', "this user's taste", 5), ('item', 'this rain jacket', 5)]
    """
    out = []
    for clause in _CLAUSE_SPLIT.split(text):
        tokens = _words(clause)
        if not tokens:
            continue
        cut = next((i for i, t in enumerate(tokens) if (t in VERBS and not _is_adjective(tokens, i))
                    or t in SUBJECT_ENDERS or _is_contraction(tokens, i)), None)
        if cut is not None and _is_contraction(tokens, cut):
            tokens = tokens[:cut] + [tokens[cut][:-2], "is"] + tokens[cut + 1:]  # "this kid's a fan"
            cut += 1
        subject = tokens[:cut] if cut is not None else tokens
        # The head is the last word before a preposition: "a fan of yoga", "the gift for this user".
        phrase = subject[:next((i for i, t in enumerate(subject) if i and t in PREPOSITIONS), len(subject))]
        head = _bare(phrase[-1]) if phrase else ""
        owners = [_bare(t) for t in subject[:-1] if t.endswith(("'s", "’s")) or t in PERSON_POSSESSIVES]
        owned_taste = head in TASTE_NOUNS and any(o in PERSON_NOUNS or o in PERSON_POSSESSIVES
                                                  for o in owners)
        if cut is None and head in PERSON_NOUNS and len(subject) <= 3:
            kind = "none"  # a label ("The user:", "Profile of the user -"), not a statement
        elif head in PERSON_NOUNS or owned_taste or (cut == 0 and tokens[0] in TASTE_VERBS):
            kind = "person"
        elif cut is not None and cut > 0 or (subject and subject[0] in DETERMINERS and cut is None):
            kind = "item"
        else:
            kind = "none"
        out.append((kind, " ".join(subject), len(tokens)))
    return out


def _bare(token: str) -> str:
    return re.sub(r"['’]s$", "", token)


def _is_contraction(tokens: list[str], i: int) -> bool:
    """ "kid's a" / "user's always": the 's is "is", not a possessive."""
    return (tokens[i].endswith(("'s", "’s")) and i + 1 < len(tokens)
            and tokens[i + 1] in {"a", "an", "the", "so", "very", "not", "always", "all", "into", "really"})


def _is_adjective(tokens: list[str], i: int) -> bool:
    """ "the child's preferred boot": a participle after a possessive describes what follows."""
    return i > 0 and tokens[i].endswith("ed") and (
        tokens[i - 1].endswith(("'s", "’s")) or tokens[i - 1] in PERSON_POSSESSIVES | DETERMINERS)


def describes_item(text: str) -> bool:
    """True when a profile describes a product rather than the user.

    It does when no clause is about a person while some clause is about an item, or the item
    clauses hold more words than the person clauses (:func:`clause_subjects`). So a label in front
    ("User profile: This knit sweater is warm.") or a short person clause beside a long product
    description ("The user likes this: This knit beanie is a unique wool knit.") does not change
    the verdict; a verbless keyword list ("hiking, wool socks, trail shoes") is not an item
    description. Checked against 160 hand-labelled profiles (tests/data/readability_labels.csv;
    agreement in docs/READABILITY.md).

    >>> describes_item("The user prefers comfortable, breathable running gear.")
    False
    >>> describes_item("This knit sweater is knit by the knit of a woolen yarn.")
    True
    >>> describes_item("User profile: This knit sweater is knit by the knit of a woolen yarn.")
    True
    >>> describes_item("A fashion enthusiast who appreciates vintage jewelry.")
    False
    >>> describes_item("Loves waterproof hiking boots and long trail walks.")
    False
    """
    clauses = clause_subjects(text)
    person = sum(n for kind, _, n in clauses if kind == "person")
    item = sum(n for kind, _, n in clauses if kind == "item")
    return item > person  # empty text, or a keyword list with no statement at all: False


def repetitive(text: str, word_limit: int = 3, ngram: int = 3) -> bool:
    """A content word `word_limit`+ times, or a word `ngram`-gram that occurs twice.

    >>> repetitive("This knit beanie is a unique wool knit knit.")
    True
    >>> repetitive("Prefers light trail shoes and warm wool socks for winter hikes.")
    False
    """
    tokens = _words(text)
    content = Counter(t for t in tokens if t not in STOPWORDS and len(t) > 2)
    if content and max(content.values()) >= word_limit:
        return True
    grams = [tuple(tokens[i:i + ngram]) for i in range(len(tokens) - ngram + 1)]
    return len(grams) != len(set(grams))


def text_flags(texts: Sequence[str]) -> pd.DataFrame:
    """The per-profile flags that need no model: item_description, repetitive, words."""
    texts = ["" if t is None else str(t) for t in texts]
    return pd.DataFrame({"item_description": [float(describes_item(t)) for t in texts],
                         "repetitive": [float(repetitive(t)) for t in texts],
                         "words": [float(len(_words(t))) for t in texts]})


def history_coverage(profile_vecs: np.ndarray, item_vecs: np.ndarray,
                     histories: Sequence[Sequence[int]], k: int = 50) -> np.ndarray:
    """Per user: the share of their history items (catalogue rows) in the profile's top-k.

    >>> items = np.eye(4, dtype=np.float32)
    >>> history_coverage(np.array([[1, 1, 0, 0.]]), items, [[0, 1, 3]], k=2).tolist()
    [0.6666666666666666]
    """
    out = np.full(len(profile_vecs), np.nan)
    k = min(k, len(item_vecs))
    items_t = np.asarray(item_vecs, np.float32).T
    for start in range(0, len(profile_vecs), 512):
        scores = np.asarray(profile_vecs[start:start + 512], np.float32) @ items_t
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, user in enumerate(range(start, min(start + 512, len(profile_vecs)))):
            history = np.asarray(histories[user], dtype=np.int64)
            if len(history) and np.isfinite(scores[row]).all() and np.abs(scores[row]).sum() > 0:
                out[user] = float(np.isin(history, top[row]).mean())
            elif len(history):
                out[user] = 0.0
    return out


def sample_profiles(texts_by_user: Mapping[str, str], n: int = 5, seed: int = 0) -> list[tuple[str, str]]:
    """`n` profiles drawn at random (seeded), not the best ones: what a run's profiles look like."""
    users = sorted(texts_by_user)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(users), size=min(n, len(users)), replace=False) if users else []
    return [(users[i], texts_by_user[users[i]]) for i in sorted(picked)]


def add_readability(result, measures: pd.DataFrame):
    """Attach per-user readability columns (rows aligned with result.per_user) and their means
    with 95% bootstrap CIs to a bluekit.evaluate.MethodResult; returns it."""
    from bluekit.evaluate import bootstrap_ci

    for column in measures.columns:
        values = measures[column].to_numpy(dtype=float)
        result.per_user[column] = values
        finite = values[np.isfinite(values)]
        result.summary[column] = float(finite.mean()) if len(finite) else float("nan")
        result.summary[f"{column}_ci_low"], result.summary[f"{column}_ci_high"] = bootstrap_ci(values)
    return result


def measure(texts: Sequence[str], examples: pd.DataFrame, *, item_index: Mapping[str, int],
            item_vecs: np.ndarray, titles: Sequence[str], embedder, reader: tuple | None = None,
            num_choices: int = 4, coverage_k: int = 50, seed: int = 0, quiz: bool = True) -> pd.DataFrame:
    """Every readability measure per example row (columns READABILITY_METRICS): the text flags,
    history coverage (texts embedded as queries), and with a reader (model, tokenizer), the quiz
    (unless quiz=False: the costlier half) and fluency under it (NaN without one)."""
    from bluekit.evaluate import history_indices, query_vectors

    texts = ["" if t is None else str(t) for t in texts]
    flags = text_flags(texts)
    vecs = query_vectors(texts, embedder, item_vecs.shape[1])
    histories = history_indices(examples, item_index)
    out = pd.DataFrame({"item_description": flags["item_description"],
                        "repetitive": flags["repetitive"],
                        "history_coverage": history_coverage(vecs, item_vecs, histories, coverage_k)})
    out["quiz_accuracy"] = np.nan
    out["fluency"] = np.nan
    if reader is not None:
        from bluekit.quiz import fluency, quiz_accuracy, quiz_questions
        model, tokenizer = reader
        if quiz:
            choices, answers = quiz_questions(examples, item_index, titles, num_choices, seed)
            out["quiz_accuracy"] = quiz_accuracy(texts, choices, answers, model, tokenizer)
        out["fluency"] = fluency(texts, model, tokenizer)
    return out[list(READABILITY_METRICS)]


def by_step(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The panel's text measures at every snapshot step (bluekit.train.load_snapshots): when did
    the profiles stop being about the user? Columns: step, item_description, repetitive, words, n.

    >>> snaps = pd.DataFrame({"step": [0, 0, 10, 10], "text": ["The user likes hats.",
    ...     "Loves wool socks.", "This hat is a hat.", "The user likes hats."]})
    >>> by_step(snaps)[["step", "item_description"]].to_dict("list")
    {'step': [0, 10], 'item_description': [0.0, 0.5]}
    """
    flags = text_flags(snapshots["text"].fillna("").astype(str).tolist())
    flags["step"] = snapshots["step"].to_numpy()
    out = flags.groupby("step").agg(item_description=("item_description", "mean"),
                                   repetitive=("repetitive", "mean"), words=("words", "mean"),
                                   n=("words", "size"))
    return out.reset_index()


def readability_table(results: Sequence, against: str = "untrained profiler") -> pd.DataFrame:
    """One row per method that carries readability measures: each measure's mean with its 95% CI
    and the paired Wilcoxon p against `against` (same users), e.g. for `evaluate` and notebooks.
    Columns: <measure> (mean), <measure>_ci (text "[low, high]"), <measure>_p."""
    from bluekit.evaluate import paired_test

    measured = [r for r in results if all(m in r.per_user for m in READABILITY_METRICS)]
    base = next((r for r in measured if r.name == against), None)
    rows = {}
    for r in measured:
        row = {}
        for m in READABILITY_METRICS:
            row[m] = r.summary.get(m, float("nan"))
            row[f"{m}_ci"] = f"[{r.summary.get(f'{m}_ci_low', float('nan')):.3g}, " \
                             f"{r.summary.get(f'{m}_ci_high', float('nan')):.3g}]"
            usable = base is not None and r is not base and r.per_user[m].notna().any()
            row[f"{m}_p"] = paired_test(base, r, m)["p_value"] if usable else float("nan")
        rows[r.name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def format_readability_table(table: pd.DataFrame) -> pd.DataFrame:
    """readability_table for reading: means to 3 digits, p-values to 2 significant digits.

    >>> t = pd.DataFrame({"fluency": [-2.5943], "fluency_ci": ["[-2.67, -2.52]"], "fluency_p": [3e-40]})
    >>> format_readability_table(t).iloc[0].tolist()
    ['-2.594', '[-2.67, -2.52]', '3e-40']
    """
    out = table.copy()
    for column in out.columns:
        if column.endswith("_p"):
            out[column] = [f"{v:.2g}" if v == v else "" for v in out[column]]
        elif not column.endswith("_ci"):
            out[column] = [f"{v:.3f}" if v == v else "" for v in out[column]]
    return out
