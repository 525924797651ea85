"""The Ray engine of ``scan``: Ray Data reads the input files, explodes them into records, runs
``map_batches`` with one model actor per worker (or per GPU) and writes the parts as Parquet, so
the same command runs on a cluster (``RAY_ADDRESS``) as on this machine.

Records are numbered by the same reader as the local engine (``scan_input.file_records``) and
summarised by the same function (``scan.summarise``), so both engines write the same rows.
Finished records are skipped on a rerun, as in the local engine.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .scan import CHUNK, claim, done_orders, summarise, to_arrow
from .scan_input import Record, file_records, input_files
from .transcript import Turn


def _row(r: Record) -> dict:
    return {
        "order": r.order,
        "id": r.id,
        "source": r.source,
        "text": r.text,
        "reason": r.reason,
        "roles": [t.role for t in r.turns],
        "contents": [t.content for t in r.turns],
    }


class Scanner:
    """One model per actor, loaded once; each batch of records becomes a batch of part rows."""

    def __init__(self, model: str, device: str, dtype: str, tokens: bool, threads: int):
        import torch

        from .models import load_model
        from .vectors import load_vectors

        torch.set_num_threads(threads)
        self.lm = load_model(model, device=device, dtype=dtype)
        self.ev = load_vectors(self.lm)
        self.tokens = tokens

    def __call__(self, batch: dict):
        records = [
            Record(int(o), str(i), str(s), str(t), tuple(Turn(a, b) for a, b in zip(roles, contents)), str(why))
            for o, i, s, t, why, roles, contents in zip(
                batch["order"], batch["id"], batch["source"], batch["text"], batch["reason"], batch["roles"], batch["contents"]
            )
        ]
        return to_arrow(summarise(self.lm, self.ev, records, self.tokens))


def scan_ray(lm, ev, input_path, out_dir: Path, tokens: bool = False, workers: int | None = None) -> None:
    """``lm`` and ``ev`` are the driver's: they name what each actor loads and check the folder."""
    import ray

    files, kind = input_files(input_path)
    root = Path(input_path).resolve()
    index = {str(f.resolve()): i for i, f in enumerate(files)}
    parts = claim(out_dir, lm, ev, input_path, tokens)
    done = done_orders(parts)
    model, device, dtype = lm.name, lm.placement.device, lm.placement.dtype
    gpus = device in ("cuda", "auto") and _cuda_count() > 0
    workers = workers or (_cuda_count() if gpus else max(1, (os.cpu_count() or 1)))
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # after init, which sets its own: no per-stage log lines
    # The actors share all but one CPU, which Ray Data's read tasks need: actors holding every CPU
    # would leave the reads waiting for ever.
    share = max(0.1, (ray.cluster_resources().get("CPU", 1) - 1) / workers)

    def explode(row: dict) -> list[dict]:
        path = str(Path(row["path"]).resolve())
        name = str(Path(path).relative_to(root)) if kind == "folder" else Path(path).name
        return [_row(r) for r in file_records(row["bytes"], name, kind, index[path]) if r.order not in done]

    ds = ray.data.read_binary_files([str(f.resolve()) for f in files], include_paths=True).flat_map(explode)
    # One .jsonl file reads as one block, and a block goes to one actor: blocks of CHUNK records
    # let every actor work.
    ds = ds.repartition(target_num_rows_per_block=CHUNK)
    ds = ds.map_batches(
        Scanner,
        fn_constructor_kwargs={"model": model, "device": device, "dtype": dtype, "tokens": tokens, "threads": 1 if not gpus else 4},
        batch_size=CHUNK,
        batch_format="numpy",
        concurrency=workers,
        num_gpus=1 if gpus else None,
        num_cpus=None if gpus else share,
    )
    ds.write_parquet(str(parts))


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
