"""Learning curves like the paper's Figure 1, and a Markdown table of returns at step budgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from memb.experiments.results import reference_numbers
from memb.experiments.stats import iqm, stratified_bootstrap_ci
from memb.training.io import write_figure_atomic


def plot_curves(
    curves: pd.DataFrame, out: str | Path, *, value: str = "return_mean", references: bool = True
) -> list[Path]:
    """One panel per env; per label the mean over seeds of `value` with a ±std band, and for returns the reported
    numbers (the paper's, public SAC's) within the plotted steps as markers. Writes OUT as PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted(curves["env"].unique())
    refs = reference_numbers() if references and value == "return_mean" else None
    labels = sorted(curves["label"].unique())
    colors = {label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)}  # fixed per label
    fig, axes = plt.subplots(1, len(envs), figsize=(5.2 * len(envs), 4.0), dpi=130, squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for label, group in curves[curves["env"] == env].groupby("label"):
            by_step = group.groupby("step")[value]
            mean, std, n = by_step.mean(), by_step.std(ddof=0), by_step.count()
            ax.plot(
                mean.index,
                mean.values,
                color=colors[label],
                lw=1.8,
                label=f"{label} ({n.max()} seed{'s' if n.max() > 1 else ''})",
            )
            ax.fill_between(mean.index, mean - std, mean + std, color=colors[label], alpha=0.2, lw=0)
        if refs is not None:
            last = curves.loc[curves["env"] == env, "step"].max()
            shown = refs[(refs["env"] == env) & (refs["step"] <= last)]
            for algo, group in shown.groupby("algo"):
                ax.scatter(
                    group["step"],
                    group["return"],
                    marker="*" if algo == "memb" else "x",
                    s=60,
                    color="black" if algo == "memb" else "gray",
                    zorder=3,
                    label=f"{algo}, reported",
                )
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
    axes[0][0].set_ylabel("evaluation return" if value == "return_mean" else value.replace("_", " "))
    # one legend for the figure, under the panels, so that it never hides a curve
    handles = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    ncol = min(len(handles), 2 + 2 * (len(envs) - 1), 6)
    legend_h = 0.22 * -(-len(handles) // ncol) + 0.15  # inches: rows of entries
    fig.set_size_inches(5.2 * len(envs), 4.0 + legend_h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, legend_h / (4.0 + legend_h), 1, 1))
    written = write_figure_atomic(fig, Path(out))
    plt.close(fig)
    return written


def returns_at(curves: pd.DataFrame, step: int) -> pd.DataFrame:
    """Each run's evaluation return at the last evaluation at or before `step` (runs that did not get there: none)."""
    reached = curves[curves["step"] <= step]
    last = reached.sort_values("step").groupby("run").tail(1)
    full = curves.groupby("run")["step"].max()
    return last[last["run"].map(full) >= step]


def report_table(curves: pd.DataFrame, steps: list[int] | None = None, *, seed: int = 0) -> str:
    """Markdown: per env and label, mean ± std and IQM [95% CI] at each budget (and the final step), beside the
    reference numbers for that env and step."""
    refs = reference_numbers()
    lines = [
        "| env | label | step | runs | mean ± std | IQM [95% CI] | reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for (env, label), group in curves.groupby(["env", "label"]):
        final = int(group.groupby("run")["step"].max().max())
        for step in sorted(set(steps or []) | {final}):  # the requested budgets and the group's final step
            scores = returns_at(group, step)["return_mean"].to_numpy()
            if scores.size == 0:
                continue
            low, high = stratified_bootstrap_ci(scores, seed=seed)
            ref = refs[(refs["env"] == env) & (refs["step"] == step)]
            ref_text = "; ".join(f"{r.algo} {r['return']:g} ({r.source})" for _, r in ref.iterrows()) or "—"
            lines.append(
                f"| {env} | {label} | {step} | {scores.size} | {np.mean(scores):.1f} ± {np.std(scores):.1f} | "
                f"{iqm(scores):.1f} [{low:.1f}, {high:.1f}] | {ref_text} |"
            )
    return "\n".join(lines) + "\n"
