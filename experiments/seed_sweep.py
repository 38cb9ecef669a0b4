"""``python -m experiments.seed_sweep --data DIR --seeds 0-9 --device cuda --json sweep.json``

CRAS (and the paper's other ablations) against variant A over many seeds.

Test figures are recorded at every validation epoch.

A measurement tool (docs/research/cras_vs_variant_a.md; the saved runs are in
experiments/results/). It trains CRAS and variant A per seed
(``--variants`` adds ``no-dafs`` and ``no-crd``, training.cras.variants) with the real
:func:`training.trainer.train` (defaults, the checkpoint chosen on validation as always)
and prints, for each variant against A, the paired table for three ways of choosing
the checkpoint: the product's (validation score averaged with the evaluation before,
``training.selection``), the plain validation maximum, and the last epoch. The rules
only read the validation scores in the history, so saved runs can be re-scored under
any of them (``--table-only``). Test figures at every validation epoch
are recorded beside the run to make that comparison possible; the trainer never
sees them (they are computed in its ``on_validation`` hook, after each validation).

Tile I-AUROC and fabric-pixel P-AUROC are computed in torch on the scoring device
(about 87 million test pixels per evaluation, 8 evaluations per run), and checked
against the product's metrics (``training.evaluate.metrics_by_class``) on the
first run; the sweep stops if they disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from training.config import TrainConfig
from training.cras.model import CrasModel
from training.cras.variants import VARIANTS
from training.data.datasets import load_tiles
from training.data.items import TileSet
from training.devices import resolve_device
from training.evaluate import metrics_by_class, score_model
from training.features import cached_features
from training.model_file import load_model
from training.selection import chosen_epoch
from training.trainer import build_model, train

RULES = ("window", "maximum", "last")


def torch_auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Mann-Whitney AUROC with average ranks for ties (equals the trapezoidal ROC area)."""
    order = torch.argsort(scores)
    ordered, positive = scores[order], labels[order]
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    ranks = ((ends - counts + 1 + ends) / 2)[inverse]
    n_pos = positive.sum().double()
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class TestFigures:
    """Mean-over-classes tile I-AUROC and pixel P-AUROC of a model on cached test features."""

    def __init__(self, tiles: TileSet, raw: torch.Tensor, device: torch.device) -> None:
        self.classes = tiles.classes
        self.raw = raw.to(device)
        self.labels = torch.from_numpy(tiles.labels.astype(bool)).to(device)
        self.masks = torch.from_numpy(tiles.masks).to(device)
        self.fabric = torch.from_numpy(tiles.fabric).to(device)
        self.class_index = torch.from_numpy(tiles.class_index).to(device)

    @torch.no_grad()
    def __call__(self, model: CrasModel) -> dict:
        """Test figures of ``model`` now (its train/eval mode is restored after)."""
        was_training = model.training
        model.eval()
        scores, maps = [], []
        for start in range(0, len(self.raw), 64):
            out = model.score_embedded(model.standardise(self.raw[start : start + 64]))
            scores.append(out.tile_score)
            maps.append(out.anomaly_map)
        model.train(was_training)
        scores, maps = torch.cat(scores), torch.cat(maps)
        per_class = {}
        for index, name in enumerate(self.classes):
            keep = self.class_index == index
            fabric = self.fabric[keep]
            per_class[name] = {
                "image_auroc": torch_auroc(scores[keep], self.labels[keep]),
                "pixel_auroc": torch_auroc(maps[keep][fabric], self.masks[keep][fabric]),
            }
        return {
            "test_image_auroc": float(np.mean([c["image_auroc"] for c in per_class.values()])),
            "test_pixel_auroc": float(np.mean([c["pixel_auroc"] for c in per_class.values()])),
            "test_per_class": per_class,
        }


def chosen_index(rule: str, history: list[dict]) -> int:
    """Index among the validation epochs that a checkpoint rule keeps."""
    evaluated = [h for h in history if "val_score" in h]
    if rule == "window":  # the trainer's rule
        return [h["epoch"] for h in evaluated].index(chosen_epoch(history))
    if rule == "maximum":  # first of the best
        scores = [h["val_score"] for h in evaluated]
        return scores.index(max(scores))
    return len(evaluated) - 1


def paired_table(runs: list[dict], variant: str = "cras", baseline: str = "raw") -> str:
    """``variant`` minus ``baseline`` per rule and metric, over the seeds run for both."""
    by_key = {(r["seed"], r["variant"]): r for r in runs}
    seeds = sorted(s for s, v in by_key if v == variant and (s, baseline) in by_key)
    lines = [
        f"{variant} against {baseline}, {len(seeds)} seeds paired: {seeds}",
        f"| checkpoint rule | metric | {variant} mean ± sd | {baseline} mean ± sd "
        f"| {variant} - {baseline} mean (sd) | paired t | {variant} ahead |",
        "|---|---|---|---|---|---|---|",
    ]
    if len(seeds) < 2:
        return f"{lines[0]}\n(needs two seeds or more)"
    for rule in RULES:
        for metric in ("test_image_auroc", "test_pixel_auroc"):
            values = {}
            for name in (variant, baseline):
                values[name] = []
                for seed in seeds:
                    run = by_key[(seed, name)]
                    index = chosen_index(rule, run["history"])
                    values[name].append(100 * run["trace"][index][metric])
            diff = [v - a for v, a in zip(values[variant], values[baseline], strict=True)]
            spread = statistics.stdev(diff)
            t = statistics.mean(diff) / (spread / math.sqrt(len(diff))) if spread else math.nan
            mean_sd = {
                name: f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f}"
                for name, v in values.items()
            }
            lines.append(
                f"| {rule} | {metric[5:]} | {mean_sd[variant]} | {mean_sd[baseline]} "
                f"| {statistics.mean(diff):+.2f} ({spread:.2f}) | {t:.2f} "
                f"| {sum(d > 0 for d in diff)} of {len(diff)} |"
            )
    return "\n".join(lines)


def all_tables(runs: list[dict]) -> str:
    """One paired table per variant that has runs, each against variant A."""
    present = {r["variant"] for r in runs}
    return "\n\n".join(paired_table(runs, v) for v in VARIANTS if v != "raw" and v in present)


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` -> 0 to 9; ``"1,4"`` -> [1, 4]."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def parse_variants(text: str) -> list[str]:
    """Comma-separated variant names, checked against training.cras.variants."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown variant(s) {unknown}; known: {VARIANTS}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Train and record the runs not yet in ``--json``, then print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--data", type=Path, required=True, help="AITEX folder")
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(10)), help="e.g. 0-9")
    parser.add_argument(
        "--variants",
        type=parse_variants,
        default=["cras", "raw"],
        help=f"comma-separated, from {', '.join(VARIANTS)} (default cras,raw)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument(
        "--eval-every", type=int, default=2, help="epochs between validation (and test) figures"
    )
    parser.add_argument("--work", type=Path, default=Path("runs/seed_sweep"))
    parser.add_argument("--json", type=Path, required=True, help="runs are appended here")
    parser.add_argument("--table-only", action="store_true", help="print the table of --json")
    args = parser.parse_args(argv)
    runs = json.loads(args.json.read_text()) if args.json.is_file() else []
    if args.table_only:
        print(all_tables(runs))
        return 0

    device = resolve_device(args.device)
    cache = args.work / "cache"
    test = load_tiles(args.data, layout="aitex", split="test", progress=False)
    probe = TrainConfig(data=args.data, device=args.device)
    model, weights_sha = build_model(probe, list(test.classes))
    raw_test = cached_features(
        model.to(device), test, weights_sha256=weights_sha, cache_dir=cache, desc="test"
    )
    figures = TestFigures(test, raw_test, device)

    trace: list[dict] = []

    def record_test_figures(epoch: int, model: CrasModel, validation: dict[str, float]) -> None:
        trace.append(dict(validation, **figures(model)))

    done = {(r["seed"], r["variant"]) for r in runs}
    for seed in args.seeds:
        for variant in args.variants:
            if (seed, variant) in done:
                continue
            started = time.perf_counter()
            trace.clear()
            config = TrainConfig(
                data=args.data,
                variant=variant,
                seed=seed,
                epochs=args.epochs,
                eval_every=args.eval_every,
                device=args.device,
                cache_dir=cache,
            )
            result = train(
                config,
                args.work / f"{variant}_s{seed}",
                progress=False,
                on_validation=record_test_figures,
            )
            if not runs:  # the torch metric must agree with the product's
                saved, _ = load_model(result.model_dir)
                product = metrics_by_class(
                    test, score_model(saved.to(device), test, raw_features=raw_test)[0]
                )["mean"]
                own = figures(saved)
                for key in ("image_auroc", "pixel_auroc"):
                    if abs(product[key] - own[f"test_{key}"]) > 1e-6:
                        print(f"metric check failed: {key} {product[key]} vs {own}")
                        return 1
            report = result.report
            runs.append(
                {
                    "seed": seed,
                    "variant": variant,
                    "chosen_epoch": report["chosen_epoch"],
                    "history": report["history"],
                    "trace": list(trace),
                    "seconds": time.perf_counter() - started,
                    "device": str(device),
                }
            )
            args.json.write_text(json.dumps(runs))
            at = trace[chosen_index("window", report["history"])]
            print(
                f"seed {seed} {variant}: epoch {report['chosen_epoch']}, test I-AUROC "
                f"{at['test_image_auroc']:.4f} P-AUROC {at['test_pixel_auroc']:.4f} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    print(all_tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
