"""How faithful are held-out profiles? Prints, for the untrained profiler and each run given, the
share of held-out profiles that copy a whole history title, name a brand the user never bought,
or state personal facts the data never gives (bluekit.evaluate.faithfulness), and mean words.

    OMP_NUM_THREADS=1 .venv/bin/python bench/learning_study/faithfulness.py cpu-demo \\
        runs/study/demo-seeds/cpu-demo/seed-0 data/pretrained/cpu-long

CONFIG sets the data and the untrained profiler's prompt; each run's held-out profiles come from
its test_profiles.json when it has one (generated and saved otherwise).
"""
import argparse

import pandas as pd

from bluekit import pipeline
from bluekit.config import load_config
from bluekit.evaluate import faithfulness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="preset or YAML file (data, untrained profiler)")
    parser.add_argument("runs", nargs="*", help="run folders with a trained adapter")
    args = parser.parse_args()
    ws = pipeline.workspace(load_config(args.config))
    profiles = {"untrained profiler": pipeline.test_profiles(ws)}
    profiles.update({run: pipeline.test_profiles(ws, run) for run in args.runs})
    rows = []
    for name, texts in profiles.items():
        words = pd.Series([len(str(t).split()) for t in texts.values()]).mean()
        rows.append({"profiler": name, **faithfulness(texts, ws.test_examples, ws.prepared.items),
                     "mean_words": round(words, 1)})
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
