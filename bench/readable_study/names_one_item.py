"""Does a profile name one product behind a user template? A study measure, not yet in the kit.

`describes_item` (bluekit.readability) catches "This knit sweater is ..." but not "This user has a
fondness for quarter-length merino Hiking Socks": the subject is the user, the content is one
product. This script measures that second pattern lexically: the share of a profile's content words
(outside the user template) that one catalogue title holds together. A profile that summarises a
person's tastes spreads its words over many items; a profile naming one product finds most of them
in a single title. A profile is flagged at a share of 0.6 or more (and at least 2 content words).

It prints, for the untrained profiler and every published run on its own held-out users, the mean
share and the flagged fraction, with three flagged examples; then its agreement with 80 hand labels
(one_item_labels.csv: 20 random held-out profiles from each of the untrained profiler, cpu-long,
cpu-long-tuned and langptune-cpu, labelled "one_item" when the content is one product type with its
modifiers, "profile" otherwise, before the flags were looked at). That agreement is modest (79%,
about 2 in 3 flags right, 2 in 3 one-product profiles found), so it stays a study measure beside the
kit's, good for a run's share, not for judging one profile.

    OMP_NUM_THREADS=1 .venv/bin/python bench/readable_study/names_one_item.py
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bluekit import pipeline, readability  # noqa: E402
from bluekit.atomic import read_json  # noqa: E402
from bluekit.config import load_config  # noqa: E402

# Words of the profile template itself ("This user has a fondness for ..."), not of its content.
TEMPLATE = frozenset("""
has have fondness enjoys enjoyed enjoy values value valued loves loved likes liked prefers
preferred appreciates appreciated fan mix range wide variety preference focus kind style styles
""".split())
FLAG_AT = 0.6
LABELS = Path(__file__).parent / "one_item_labels.csv"


def _content(text: str) -> set[str]:
    words = (w for w in readability._words(text) if len(w) > 2 and w not in readability.STOPWORDS
             and w not in TEMPLATE and w not in readability.PERSON_NOUNS)
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}  # socks ~ sock


class TitleIndex:
    """Which catalogue titles hold each content word."""

    def __init__(self, titles):
        self.titles = defaultdict(list)
        for row, title in enumerate(titles):
            for word in _content(title):
                self.titles[word].append(row)

    def one_item_share(self, text: str) -> float:
        """The largest share of the text's content words found together in one title."""
        words = _content(text)
        if len(words) < 2:
            return 0.0
        hits = defaultdict(int)
        for word in words:
            for row in self.titles.get(word, ()):
                hits[row] += 1
        return max(hits.values(), default=0) / len(words)


def main() -> None:
    cfg = load_config("cpu-long")
    ws = pipeline.workspace(cfg)
    index = TitleIndex(ws.prepared.items.title.fillna("").astype(str))
    runs = {"untrained profiler": pipeline.test_profiles(ws, None)}
    for folder in sorted((ROOT / "data" / "pretrained").iterdir()):
        if (folder / "test_profiles.json").exists():
            runs[folder.name] = read_json(folder / "test_profiles.json")["profiles"]
    print(f"share of content words in one catalogue title; flagged at >= {FLAG_AT}")
    for name, profiles in runs.items():
        texts = [profiles[u] for u in sorted(profiles)]
        shares = np.array([index.one_item_share(t) for t in texts])
        flagged = [t for t, s in zip(texts, shares) if s >= FLAG_AT]
        print(f"{name:20s} n {len(texts):4d}  mean {shares.mean():.2f}  flagged {len(flagged) / len(texts):4.0%}")
        for text in flagged[:3]:
            print(f"    {text[:100]!r}")
    with open(LABELS, newline="") as f:
        labelled = list(csv.DictReader(f))
    flags = [index.one_item_share(row["text"]) >= FLAG_AT for row in labelled]
    truth = [row["label"] == "one_item" for row in labelled]
    hits = sum(f and t for f, t in zip(flags, truth))
    print(f"hand labels ({LABELS.name}, n {len(labelled)}): agreement "
          f"{sum(f == t for f, t in zip(flags, truth)) / len(labelled):.0%}; flags right "
          f"{hits}/{sum(flags)}; one-product profiles found {hits}/{sum(truth)}")
    for source in dict.fromkeys(row["source"] for row in labelled):
        rows = [t for row, t in zip(labelled, truth) if row["source"] == source]
        print(f"    {source:16s} labelled one_item {sum(rows)}/{len(rows)}")


if __name__ == "__main__":
    main()
