"""Command line: `python -m bluekit <command>`; each command is a thin call into the package.

    python -m bluekit demo-data --config cpu-demo
    python -m bluekit download amazon All_Beauty
    python -m bluekit download amazon All_Beauty --splits   # + the official benchmark splits
    python -m bluekit baselines --config cpu-demo
    python -m bluekit train --config cpu-demo --set train.grpo.max_steps=20
    python -m bluekit evaluate --config cpu-demo --run runs/demo/train
    python -m bluekit frozen-vs-tuned runs/tuned     # a run trained with embed.trainable: true
    python -m bluekit publish runs/cpu-long/cpu-long/seed-0 cpu-long   # what `make train-long` ends with
    python -m bluekit compare cpu-demo mine=my_run.yaml --steps 150 --seeds 0 1 2  # a study
    python -m bluekit table runs/study --vs cpu-demo      # its tables so far (trains nothing)
    python -m bluekit demo --out runs/demo          # what `make demo` runs
    python -m bluekit report runs/demo/train --out runs/demo/report.html   # one offline HTML file
    python -m bluekit select runs/study/mine/seed-0   # its best readable step, on validation users
    python -m bluekit transfer data/pretrained/cpu-long --to Sports Books local   # zero-shot on other domains
    python -m bluekit qa --config cpu-demo --run data/pretrained/cpu-long --users 100   # profiles as QA context
    python -m bluekit paper-table --out runs/paper-table --users 100   # every method x domain, published runs

The kit's own errors (a config key, a data file, a download, a reward, a model) print one line
and exit with status 2; `--debug` shows their traceback. Any other exception is a bug and keeps
its traceback. A config file that names a reward by dotted path (`my_rewards.title_overlap`) has
its folder put on the Python path (bluekit.config.importable), so the module next to it is found;
a run folder's run.json names the folders its rewards came from, for `report` and `evaluate --run`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The notebooks `make demo` executes, in order (00 is the environment tour, not a stage).
DEMO_NOTEBOOKS = ["01_prepare_data.ipynb", "02_embed_and_baselines.ipynb",
                  "03_reward_playground.ipynb", "04_train_profiler.ipynb"]


def _overrides(pairs: list[str]) -> dict:
    from bluekit.config import ConfigError, parse_yaml
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = parse_yaml(value, f"--set {pair}")
    return out


def _config(args):
    from bluekit.config import load_config
    return load_config(args.config, _overrides(args.set))  # puts the file's folder on sys.path


def _run_folder(run: str | None, must_exist: bool = True) -> None:
    """A run folder given on the command line: its rewards become importable (run.json)."""
    from bluekit.errors import KitError
    from bluekit.train.run import import_run_rewards
    if run is not None and Path(run).is_dir():
        import_run_rewards(run)
    elif run is not None and must_exist:
        raise KitError(f"{run}: no such run folder")


def cmd_demo_data(args) -> None:
    from bluekit.data import synth
    cfg = _config(args)
    folders = synth.ensure_demo_data(cfg.data.demo_dir, cfg.data.demo_users, cfg.data.demo_items,
                                     cfg.data.seed)
    for domain, folder in folders.items():
        print(f"{domain}: {folder}")


def cmd_download(args) -> None:
    from bluekit.data import download
    from bluekit.errors import KitError
    if args.source == "amazon":
        download.download_amazon(args.name, raw_dir=args.raw_dir)
        if args.splits:
            download.download_amazon_splits(args.name, raw_dir=args.raw_dir)
    elif args.splits:
        raise KitError("--splits: only Amazon Reviews 2023 publishes benchmark split files")
    else:
        download.download_google_local(args.name, raw_dir=args.raw_dir)


def cmd_baselines(args) -> None:
    from bluekit import pipeline
    cfg = _config(args)
    ws = pipeline.workspace(cfg)
    results = pipeline.baseline_results(ws)
    print(pipeline.save_table(results, Path(cfg.eval.out_dir) / "baselines").to_string())


def cmd_train(args) -> None:
    from bluekit.train import train_profiler
    cfg = _config(args)
    result = train_profiler(cfg, resume=not args.fresh)
    if result.processes > 1:  # under accelerate launch: one line per process, one adapter
        print(f"process {result.process_index} of {result.processes}: "
              f"{result.global_step} steps", flush=True)
    if result.process_index == 0:
        print(f"trained in {result.wall_time_s:.0f} s; adapter: {result.adapter_dir}")


def cmd_evaluate(args) -> None:
    from bluekit import pipeline
    from bluekit.distributed import is_main_process, main_process_first
    cfg = _config(args)
    _run_folder(args.run)
    if args.step is not None:  # a saved step of the run, e.g. the one `select` chose
        from bluekit.selection import resolve_step
        args.run = str(resolve_step(args.run or cfg.train.output_dir, args.step)[1])
        print(f"evaluating the adapter in {args.run}", flush=True)
    with main_process_first():  # under accelerate launch the caches are built once
        ws = pipeline.workspace(cfg)
    if not is_main_process():  # the other processes share the profile generation, no more
        for run_dir in (None, args.run or cfg.train.output_dir):
            pipeline.test_profiles(ws, run_dir, show_progress=False)
        return
    results = pipeline.profile_results(ws, run_dir=args.run) + pipeline.readability_references(ws)
    table = pipeline.save_table(results, Path(cfg.eval.out_dir) / "profiles")  # every column
    from bluekit.readability import READABILITY_METRICS, format_readability_table, readability_table
    rank = [c for c in table.columns if not c.startswith(READABILITY_METRICS)]
    print(table[rank].to_string())
    print("\nreadability (95% CI; p: paired Wilcoxon against the untrained profiler):")
    print(format_readability_table(readability_table(results)).to_string())


def cmd_frozen_vs_tuned(args) -> None:
    from bluekit import pipeline
    from bluekit.config import load_config
    from bluekit.embedder_training import frozen_vs_tuned
    _run_folder(args.run)
    ws = pipeline.workspace(load_config(Path(args.run) / "config.yaml"))  # the frozen embedder
    results, tests = frozen_vs_tuned(ws, args.run)
    out = Path(args.out or args.run) / "frozen-vs-tuned"
    print(pipeline.save_table(results, out).to_string())
    tests.to_csv(out.with_name("frozen-vs-tuned-tests.csv"), index=False)
    print(tests[["texts", "metric", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "p_value", "n"]]
          .rename(columns={"mean_a": "frozen", "mean_b": "tuned", "mean_diff": "frozen-tuned"})
          .to_string(index=False))  # the CI is of frozen - tuned (paired bootstrap)


def cmd_compare(args) -> None:
    from bluekit.compare import compare
    from bluekit.study_table import StudyError
    try:
        compare(args.configs, args.out, steps=args.steps, minutes=args.minutes, seeds=args.seeds,
                eval_at=args.eval_at or [], overrides=_overrides(args.set), jobs=args.jobs,
                threads=args.threads, vs=args.vs)
    except StudyError:
        _print_tables(args.out, args.vs)  # the runs that finished, then the error naming the others
        raise
    _print_tables(args.out, args.vs)


def cmd_table(args) -> None:
    from bluekit.compare import rebuild_table
    rebuild_table(args.out, vs=args.vs)
    _print_tables(args.out, args.vs)


def _print_tables(out: str, vs: str | None) -> None:
    """The tables compare and table wrote, as written (table.md, then table-vs-LABEL.md)."""
    for name in ["table"] + ([f"table-vs-{vs}"] if vs else []):
        path = Path(out) / f"{name}.md"
        if path.exists():
            print(path.read_text())
            print(f"written to {path} (.csv, .json)\n")


def cmd_select(args) -> None:
    import pandas as pd
    from bluekit.selection import SELECTION_FILE, select_step
    _run_folder(args.run)
    selection = select_step(args.run, max_item_rise=args.max_item_rise)
    print(pd.DataFrame(selection["table"]).drop(columns="folder").round(4).to_string(index=False))
    print(f"chosen: step {selection['step']} ({selection['rule']}); "
          f"written to {Path(args.run) / SELECTION_FILE}")


def cmd_tradeoff(args) -> None:
    from bluekit.study_table import markdown_table
    from bluekit.tradeoff import tradeoff_table, write_tradeoff
    table = tradeoff_table(args.sources, against=args.against)
    print(markdown_table(table.drop(columns="reference")))
    print(f"written to {write_tradeoff(table, args.out)} (tradeoff.md/.csv/.json/.html)")


def cmd_transfer(args) -> None:
    from bluekit.transfer import transfer
    for run in args.runs:
        _run_folder(run)
    long, wide, _ = transfer(args.runs, args.to, overrides=_overrides(args.set), out=args.out,
                             include_source_train_users=args.include_source_train_users)
    print(wide.to_string())
    print()
    print(long.round(4).to_string(index=False))
    print(f"written to {Path(args.out) / 'transfer.md'} (.csv, .json, cells/)")


def cmd_qa(args) -> None:
    from bluekit import pipeline, qa
    cfg = _config(args)
    _run_folder(args.run)
    ws = pipeline.workspace(cfg)
    table, results = qa.qa(ws, args.run, n_users=args.users, num_choices=args.choices,
                           contexts=args.contexts, progress=True)
    stem = qa.save_qa(table, results, Path(cfg.eval.out_dir) / "qa")
    print(qa.format_qa_table(table).to_string())
    print(f"chance (multiple choice): {table.attrs['chance']:.3f}; reader above chance given the "
          f"ceiling context: {qa.reader_check(table)}")
    print(f"written to {stem.with_suffix('.md')} (.csv, .json)")


def cmd_paper_table(args) -> None:
    from bluekit.paper_table import paper_table
    from bluekit.study_table import markdown_table
    result = paper_table(args.config, args.domains, users=args.users, qa_users=args.qa_users,
                         out=args.out, overrides=_overrides(args.set))
    print(markdown_table(result["table"].fillna("").reset_index()))
    print("\n".join(f"- {note}" for note in result["notes"]))
    print(f"written to {Path(args.out) / 'paper-table.md'} (.csv, .json) in {result['wall_s']:.0f} s")


def cmd_publish(args) -> None:
    from bluekit.train import publish_run
    dest = publish_run(args.run, args.name, args.command, curve=args.curve, step=args.step)
    print(f"published {args.run} as {dest}")


def cmd_demo(args) -> None:
    from bluekit.notebooks import execute_notebook, read_record
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.notebooks or DEMO_NOTEBOOKS:
        print(f"== running notebooks/{name} (preset {args.config}) ...", flush=True)
        nb = execute_notebook(NOTEBOOKS / name, out / name, parameters={"PRESET": args.config})
        print(f"   recorded: {read_record(nb)}", flush=True)
    print(f"executed notebooks and results are in {out}/")
    from bluekit.report import demo_report
    demo_report(args.config, out)  # ends the demo with out/report.html


def cmd_report(args) -> None:
    from bluekit.report import write_report
    _run_folder(args.run, must_exist=False)  # the report also takes a published name
    report = write_report(args.run, args.out, compare=args.compare, results=args.results)
    print(f"wrote {report.path} ({report.bytes / 1e6:.1f} MB; evaluation from {report.evaluation_source}"
          + ("; includes the published long run" if report.included_published else "") + ")")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bluekit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="subcommand", required=True)  # publish has its own --command

    def with_config(p, default="cpu-demo"):
        p.add_argument("--config", default=default, help="preset name or YAML path")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override, e.g. --set train.grpo.max_steps=20 (repeatable)")
        return p

    with_config(sub.add_parser("demo-data", help="write the demo world")).set_defaults(
        func=cmd_demo_data)
    p = sub.add_parser("download", help="download a real dataset (needs internet)")
    p.add_argument("source", choices=["amazon", "google_local"])
    p.add_argument("name", help="Amazon category (e.g. All_Beauty) or Google Local state (e.g. New_York)")
    p.add_argument("--raw-dir", default="data/raw")
    p.add_argument("--splits", action="store_true",
                   help="amazon: also the official 5-core last_out and timestamp split files")
    p.set_defaults(func=cmd_download)
    with_config(sub.add_parser("baselines", help="evaluate the baselines")).set_defaults(
        func=cmd_baselines)
    p = with_config(sub.add_parser("train", help="GRPO-train the profiler"))
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints in output_dir")
    p.set_defaults(func=cmd_train)
    p = with_config(sub.add_parser("evaluate", help="evaluate untrained vs trained profiles"))
    p.add_argument("--run", default=None, help="training run folder (default: train.output_dir)")
    p.add_argument("--step", default=None, help="'chosen' (the step `select` chose) or a saved "
                   "step number (default: the run's final adapter)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("frozen-vs-tuned", help="held-out users under the frozen and a run's tuned "
                       "embedder (embed.trainable), with paired tests")
    p.add_argument("run", help="a run folder trained with embed.trainable: true")
    p.add_argument("--out", default=None, help="folder for the tables (default: the run folder)")
    p.set_defaults(func=cmd_frozen_vs_tuned)
    p = sub.add_parser("compare", help="train and evaluate configurations under one budget",
                       description=__import__("bluekit.compare").compare.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+", metavar="[LABEL=]CONFIG",
                   help="preset names or YAML files (a file may start with `base: cpu-demo`)")
    p.add_argument("--out", required=True, help="study folder (rerun the command to resume)")
    p.add_argument("--steps", type=int, help="GRPO steps per run (train.grpo.max_steps)")
    p.add_argument("--minutes", type=float, help="training minutes per run (train.max_minutes)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default 0)")
    p.add_argument("--eval-at", type=int, nargs="*", metavar="STEP",
                   help="also evaluate the adapter at these steps (a learning curve)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per run (1 repeats exactly; 2 is faster on an idle machine)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override for every configuration (data, eval: must be the same for all)")
    p.add_argument("--vs", metavar="LABEL", help="also pair every other configuration with this "
                   "one, per seed and pooled (OUT/table-vs-LABEL.md)")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("table", help="a study folder's table as it stands (trains nothing)")
    p.add_argument("out", help="study folder written by compare")
    p.add_argument("--vs", metavar="LABEL", help="also the table of every other configuration "
                   "against LABEL (OUT/table-vs-LABEL.md)")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("select", help="choose a run's step on its validation users (readable, best MRR)")
    p.add_argument("run", help="run folder trained with train.validation_users > 0")
    p.add_argument("--max-item-rise", type=float, default=0.10,
                   help="largest rise of the item-description share over the untrained profiler's")
    p.set_defaults(func=cmd_select)
    p = sub.add_parser("tradeoff", help="rank against readability: every evaluated profiler of "
                       "study folders / results files, and the targets each meets")
    p.add_argument("sources", nargs="+", metavar="[NAME=]PATH",
                   help="study folders (compare's --out) or results files (evaluate's)")
    p.add_argument("--against", default=None, metavar="NAME",
                   help="the source whose untrained profiler every point is tested against (default: the first)")
    p.add_argument("--out", default="runs/tradeoff", help="folder for tradeoff.md/.csv/.json/.html")
    p.set_defaults(func=cmd_tradeoff)
    p = sub.add_parser("transfer", help="evaluate trained runs zero-shot on other domains",
                       description=__import__("bluekit.transfer").transfer.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders, e.g. data/pretrained/cpu-long")
    p.add_argument("--to", nargs="+", metavar="DOMAIN", help="target domains (default: every other demo domain)")
    p.add_argument("--out", default="runs/transfer", help="folder for transfer.{csv,md,json}")
    p.add_argument("--include-source-train-users", action="store_true",
                   help="also evaluate target users who were the run's training users in its source domain")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override on each target's config (the run's own), e.g. eval.test_users=100")
    p.set_defaults(func=cmd_transfer)
    p = with_config(sub.add_parser("qa", help="profiles as QA context: next-item choice and rating",
                                   description=__import__("bluekit.qa").qa.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--run", default=None, help="trained run folder (omit: no trained-profile row)")
    p.add_argument("--users", type=int, default=None, help="the first N held-out users (default all)")
    p.add_argument("--choices", type=int, default=4, help="options per question (K)")
    p.add_argument("--contexts", nargs="+", metavar="WORD",
                   help="only the contexts whose name contains a word: ceiling, 'no context', raw, profile")
    p.set_defaults(func=cmd_qa)
    p = with_config(sub.add_parser("paper-table", help="every method on every domain from the published "
                                   "runs: rank metrics with CIs, marks vs cpu-long, QA columns",
                                   description=__import__("bluekit.paper_table").paper_table.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter), default="cpu-long")
    p.add_argument("--out", default="runs/paper-table", help="folder for paper-table.{csv,md,json}")
    p.add_argument("--users", type=int, default=None, help="the first N evaluated users per domain (default all)")
    p.add_argument("--qa-users", type=int, default=None, help="the QA's users (default 48, or --users when fewer)")
    p.add_argument("--domains", nargs="+", default=None, metavar="DOMAIN",
                   help="the source first (default: Clothing Sports Books local)")
    p.set_defaults(func=cmd_paper_table)
    p = sub.add_parser("publish", help="copy a finished run's adapter and logs to data/pretrained/")
    p.add_argument("run", help="training run folder, e.g. runs/cpu-long/cpu-long/seed-0")
    p.add_argument("name", help="published name, e.g. cpu-long")
    p.add_argument("--command", default="make train-long",
                   help="the command that produced the run (written into its README)")
    p.add_argument("--curve", default=None,
                   help="a compare table of the run (its learning curve), shipped as curve.md")
    p.add_argument("--step", default=None, help="'chosen': publish the adapter of the step `select` "
                   "chose (with its selection.json); a number: that saved step (default: the final one)")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("report", help="write one self-contained HTML report of a training run")
    p.add_argument("run", help="run folder, e.g. runs/demo/train or data/pretrained/cpu-long")
    p.add_argument("--out", default="report.html", help="the HTML file to write")
    p.add_argument("--compare", choices=["auto", "always", "never"], default="auto",
                   help="add the published cpu-long run: when this run barely moved (auto), always, never")
    p.add_argument("--results", default=None,
                   help="evaluation results JSON (default: the newest one saved for this run)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("demo", help="run the tutorial notebooks headless (make demo)")
    p.add_argument("--config", default="cpu-demo")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--notebooks", nargs="*", help="subset of notebook file names")
    p.set_defaults(func=cmd_demo)

    for command in [parser, *sub.choices.values()]:  # --debug before or after the command
        command.add_argument("--debug", action="store_true",
                             default=False if command is parser else argparse.SUPPRESS,
                             help="show the traceback of the kit's own errors too")
    args = parser.parse_args(argv)
    from bluekit.errors import KitError
    try:
        args.func(args)
    except (KitError, FileNotFoundError) as error:
        if args.debug:
            raise
        print(f"bluekit {args.subcommand}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main(sys.argv[1:])
