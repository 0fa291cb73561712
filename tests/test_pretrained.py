"""The published runs (`make train-long`, train-langptune, ...): each loads, is what the code's
preset of its name says, and publishing copies exactly what the notebooks need."""
import json

import pytest
import torch

from bluekit.config import load_config
from bluekit.train import (load_metrics, load_snapshots, load_trained_profiler, pretrained_run,
                           publish_run)
from bluekit.train.pretrained import PRETRAINED_DIR, PUBLISHED_FILES

PUBLISHED = sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.yaml").exists())


def recipe(cfg) -> dict:
    """A config without where its run was written and what it was called: the recipe."""
    settings = cfg.to_dict()
    del settings["name"], settings["train"]["output_dir"], settings["eval"]["out_dir"]
    return settings


def test_cpu_long_is_published():
    assert "cpu-long" in PUBLISHED


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_config_is_the_preset_of_its_name_in_this_code(name):
    recorded = load_config(pretrained_run(name) / "config.yaml")
    assert recipe(recorded) == recipe(load_config(name))


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_run_logged_every_step_and_snapshotted_start_to_end(name):
    run = pretrained_run(name)
    cfg = load_config(run / "config.yaml")
    meta = json.loads((run / "run.json").read_text())
    assert meta["global_step"] == cfg.train.grpo['max_steps'] and meta["seed"] == cfg.train.seed
    metrics = load_metrics(run)
    train_steps = set(metrics.loc[metrics["reward"].notna(), "step"].astype(int))
    assert train_steps == set(range(1, cfg.train.grpo['max_steps'] + 1))
    snapshots = load_snapshots(run)
    assert {0, cfg.train.grpo['max_steps']} <= set(snapshots.step)
    assert snapshots.groupby("step").user_id.nunique().eq(cfg.train.panel_users).all()
    assert "make train-" in (run / "README.md").read_text()


@pytest.mark.slow
def test_published_adapter_loads_onto_smollm2_and_changes_it():
    from bluekit.llm import load_profiler

    run = pretrained_run("cpu-long")
    cfg = load_config(run / "config.yaml")
    trained, tok = load_trained_profiler(run)
    base, _ = load_profiler(cfg.profiler)
    def delta(layer: int) -> float:
        name = f"model.layers.{layer}.self_attn.q_proj.weight"
        return (trained.state_dict()[name] - base.state_dict()[name]).abs().max().item()
    trained_layers = cfg.train.lora.get("layers_to_transform") or [0]
    assert 0 < delta(trained_layers[0]) < 1  # the LoRA update is merged in: an update, not a new model
    if 0 not in trained_layers:
        assert delta(0) == 0  # layers outside layers_to_transform are the base model's
    prompt = tok.apply_chat_template([{"role": "user", "content": "Describe a hiker."}],
                                     tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = trained.generate(**ids, max_new_tokens=12, do_sample=False)
    assert tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_publish_copies_the_adapter_logs_and_command_and_names_what_is_missing(tmp_path):
    run = tmp_path / "run"
    for rel in PUBLISHED_FILES:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("{}" if rel.endswith(".json") else "x")
    (run / "run.json").write_text(json.dumps({"seed": 3, "global_step": 7, "git_commit": "abc"}))
    (run / "checkpoint-5").mkdir()  # checkpoints are not published
    (run / "test_profiles.json").write_text("{}")  # optional: shipped when the run was evaluated
    curve = tmp_path / "table.md"
    curve.write_text("| config | step | mrr |\n|---|---|---|\n| mine | 30 | 0.05 |\n")
    dest = publish_run(run, "mine", "make train-long", root=tmp_path / "pretrained", curve=curve)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
        [*PUBLISHED_FILES, "README.md", "test_profiles.json", "curve.md"])
    assert "| mine | 30 | 0.05 |" in (dest / "README.md").read_text()
    readme = (dest / "README.md").read_text()
    assert "`make train-long`" in readme and "seed 3" in readme and "abc" in readme
    assert pretrained_run("mine", root=tmp_path / "pretrained") == dest
    publish_run(run, "mine", "again", root=tmp_path / "pretrained")  # republishing replaces
    assert "`again`" in (dest / "README.md").read_text()
    (run / "embedder").mkdir()  # a run that tuned its embedder (embed.trainable) ships it too
    (run / "embedder" / "model.safetensors").write_text("w")
    publish_run(run, "mine", "tuned", root=tmp_path / "pretrained")
    assert (dest / "embedder" / "model.safetensors").read_text() == "w"
    assert not list((tmp_path / "pretrained").glob(".*"))  # no staging folder left behind

    (run / "final" / "adapter_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="adapter_model.safetensors"):
        publish_run(run, "broken", "x", root=tmp_path / "pretrained")
    with pytest.raises(FileNotFoundError, match="no published run 'nope'.*mine"):
        pretrained_run("nope", root=tmp_path / "pretrained")


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_profiles_match_the_key_the_pipeline_computes(name):
    """A new data or profiler setting must not orphan the shipped held-out profiles (the notebooks,
    evaluate and transfer would silently regenerate 240 profiles instead of reading them)."""
    from types import SimpleNamespace

    from bluekit.atomic import read_json
    from bluekit.pipeline import profiles_key

    run = pretrained_run(name)
    shipped = read_json(run / "test_profiles.json")
    cfg = load_config(run / "config.yaml")
    ws = SimpleNamespace(cfg=cfg, test_users=list(shipped["profiles"]))  # what the key reads
    assert profiles_key(ws, cfg.profiler, run) == shipped["key"]


def test_publish_the_chosen_step_ships_its_adapter_profiles_and_the_choice(tmp_path):
    """`make train-long` publishes the step `select` chose on validation users, not the last one."""
    run = tmp_path / "run"
    for rel in PUBLISHED_FILES:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("{}" if rel.endswith(".json") else "final")
    (run / "run.json").write_text(json.dumps({"seed": 0, "global_step": 240}))
    step = run / "step-110"
    (step / "final").mkdir(parents=True)
    for rel in PUBLISHED_FILES[-2:]:  # the adapter's two files
        (run / rel.replace("final/", "step-110/final/")).write_text("step 110")
    (step / "test_profiles.json").write_text('{"key": "k", "profiles": {}}')
    rows = [{"step": 0, "mrr": 0.02, "ndcg@10": 0.02, "item_description": 0.0, "repetitive": 0.3,
             "eligible": True}, {"step": 110, "mrr": 0.05, "ndcg@10": 0.05,
                                 "item_description": 0.05, "repetitive": 0.35, "eligible": True}]
    (run / "selection.json").write_text(json.dumps({"step": 110, "rule": "best readable", "table": rows}))
    dest = publish_run(run, "long", "make train-long", root=tmp_path / "pretrained", step="chosen")
    assert (dest / "final" / "adapter_model.safetensors").read_text() == "step 110"
    assert json.loads((dest / "test_profiles.json").read_text())["key"] == "k"
    assert json.loads((dest / "run.json").read_text()) == {"seed": 0, "global_step": 240,
                                                          "published_step": 110}
    assert json.loads((dest / "selection.json").read_text())["step"] == 110
    readme = (dest / "README.md").read_text()
    assert "step 110's of 240" in readme and "| 110 | 0.0500 | 0.0500 | 5% | 35% | yes |" in readme
