"""What every benchmark record carries: the command, commit, date and machine that produced it."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path


def machine() -> dict:
    import jax

    # the model name alone ("AMD EPYC") does not tell this workplace's machines apart: their matmul rates differ by
    # more than 2x, so records also carry the CPU family and model numbers and the widest vector extension
    info: dict[str, str] = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "flags") and key not in info:
                info[key] = value.strip()
            if line.strip() == "":
                break
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    vector = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "unknown")
    memory_gib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {
        "cpu": info.get("model name", "unknown"),
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "vector_isa": vector,
        "memory_gib": memory_gib,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_device": str(jax.devices()[0]),
    }


def describe(m: dict) -> str:
    """One line for a record's machine; older records lack the family/model and vector fields."""
    parts = [m["cpu"]]
    if "cpu_family_model" in m:
        parts[0] += f" (family/model {m['cpu_family_model']}, {m['vector_isa']})"
    parts.append(f"{m['cores']} cores")
    if m.get("memory_gib"):
        parts.append(f"{m['memory_gib']} GiB")
    parts.append(m["jax_device"])
    return ", ".join(parts)


def commit() -> str:
    try:
        sha = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
        # the code that produces results: the package, the benchmark scripts, the project file (not results/), and
        # the suite's learning runs (learning_test_margins.py trains them)
        code = [
            "src",
            "pyproject.toml",
            "tests/learning_runs.py",
            *(str(p) for p in Path(__file__).parent.glob("*.py")),
        ]
        # changed or not yet tracked (a new script counts as uncommitted code too)
        status = subprocess.check_output(["git", "status", "--porcelain", "--", *code], text=True)
        dirty = bool(status.strip())
        return sha + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def header() -> dict:
    return {
        "command": " ".join(["python", *sys.argv]),
        "commit": commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def write_record(
    folder: str, prefix: str, record: dict, title: str, lines: list[str], stamp: str | None = None
) -> None:
    """benchmarks/results/FOLDER/PREFIX<date>.json (the record) and .md: the title, the command, commit, date and
    machine, then `lines`; both written atomically. `stamp` (default: now, to the minute) names the files, so that a
    script can rewrite its record as results come in."""
    from memb.training.io import write_bytes_atomic, write_json_atomic

    out = Path(__file__).parent / "results" / folder
    out.mkdir(parents=True, exist_ok=True)
    stamp = stamp or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
    m = record["machine"]
    head = [
        f"# {title}",
        "",
        f"- command: `{record['command']}`",
        f"- commit: {record['commit']}",
        f"- date: {record['date']}",
        f"- machine: {describe(m)}",
    ]
    write_json_atomic(out / f"{prefix}{stamp}.json", record)
    write_bytes_atomic(out / f"{prefix}{stamp}.md", ("\n".join([*head, *lines]) + "\n").encode())
    print(f"written {out / prefix}{stamp}.json and .md")
