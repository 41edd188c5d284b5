"""Plot evaluation curves (eval.csv of one or more run directories) to a PNG.

python benchmarks/plot_curves.py OUT.png RUN_DIR [RUN_DIR ...] [--title T] [--reference 8000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("runs", nargs="+")
    p.add_argument("--title", default="")
    p.add_argument("--reference", type=float, default=None, help="a horizontal line, e.g. the paper's figure")
    args = p.parse_args()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for run in args.runs:
        df = pd.read_csv(Path(run) / "eval.csv")
        (line,) = ax.plot(df["step"], df["return_mean"], label=Path(run).name)
        ax.fill_between(
            df["step"],
            df["return_mean"] - df["return_std"],
            df["return_mean"] + df["return_std"],
            color=line.get_color(),
            alpha=0.2,
        )
    if args.reference is not None:
        ax.axhline(args.reference, color="gray", ls="--", lw=1, label=f"paper ≈ {args.reference:g}")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return (mean ± std over episodes)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
