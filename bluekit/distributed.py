"""More than one process, through accelerate: which process writes, and how work is shared out.

`accelerate launch` starts one process per GPU (or, on a CPU, `--multi_gpu --num_processes 2`
starts two gloo processes) and every process runs the same command. GRPO training itself is
TRL's and accelerate's: GRPOTrainer wraps the policy in DistributedDataParallel and gives each
process its share of every batch. What the kit adds is only this:

    is_main_process()          the main process alone writes the run folder and caches
    main_process_first()       the main process builds shared caches; the others then read them
    map_split(fn, items)       each process runs fn on its share of items (accelerate's
                               split_between_processes); the results come back in order

In a plain single process each is a no-op: fn(items), a null context, True.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Sequence


def process_state():
    """accelerate's PartialState: the process group is set up on first use (gloo without a GPU,
    as the trainer's use_cpu does; nccl with one) and transformers' TrainingArguments joins it."""
    import torch
    from accelerate import PartialState
    return PartialState(cpu=not torch.cuda.is_available())


def is_main_process() -> bool:
    return process_state().is_main_process


@contextlib.contextmanager
def main_process_first():
    """Inside: the main process first, then the others (they find its caches written)."""
    state = process_state()
    if state.num_processes == 1:
        yield
        return
    with state.main_process_first():
        yield


def map_split(fn: Callable[[list], list], items: Sequence) -> list:
    """fn over items, shared among the processes: process r gets the r-th contiguous slice
    (split_between_processes), and every process gets the whole result back in item order.

    fn must return one result per item it is given.
    """
    state = process_state()
    if state.num_processes == 1:
        return list(fn(list(items)))
    from accelerate.utils import gather_object

    with state.split_between_processes(list(range(len(items)))) as rows:
        part = list(fn([items[i] for i in rows])) if rows else []
    if len(part) != len(rows):
        raise ValueError(f"map_split: {len(part)} results for {len(rows)} items")
    out: list = [None] * len(items)
    for i, value in gather_object(list(zip(rows, part))):
        out[i] = value
    return out
