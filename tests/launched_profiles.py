"""Run by tests/test_distributed.py under `accelerate launch`: the held-out profiles of the smoke
world, generated with the users split across the processes (pipeline.generate_test_profiles).

    accelerate launch ... tests/launched_profiles.py OUT_JSON KEY=VALUE ...   (config overrides)

Every process prints how many users it generated; the main process writes {"profiles": ...}.
"""
import json
import sys

from bluekit import pipeline, profiler
from bluekit.atomic import write_json
from bluekit.config import load_config, parse_yaml
from bluekit.distributed import main_process_first, process_state
from bluekit.llm import load_profiler


def main() -> None:
    out, pairs = sys.argv[1], sys.argv[2:]
    cfg = load_config("smoke", {k: parse_yaml(v, k) for k, _, v in (p.partition("=") for p in pairs)})
    with main_process_first():
        ws = pipeline.workspace(cfg)
    model, tokenizer = load_profiler(cfg.profiler)

    shares = []
    generate = profiler.profiles_for_examples

    def counted(model, tokenizer, examples, *args, **kwargs):
        shares.append(len(examples))
        return generate(model, tokenizer, examples, *args, **kwargs)

    profiler.profiles_for_examples = counted  # pipeline imports it at call time
    profiles = pipeline.generate_test_profiles(ws, model, tokenizer, show_progress=False)
    state = process_state()
    print(f"process {state.process_index} of {state.num_processes} generated {sum(shares)} "
          f"of {len(profiles)} profiles", flush=True)
    if state.is_main_process:
        write_json(out, {"profiles": profiles})


if __name__ == "__main__":  # pytest --doctest-modules imports this file: run only when launched
    main()
