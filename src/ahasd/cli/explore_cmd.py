"""``ahasd sweep`` and ``ahasd explore`` (spec search, or ``explore specpim`` for the SpecPIM GA).

Thin: parse, call ``ahasd.explore``, render a rich table. Progress bars go to stderr; with
``--json`` stdout carries one JSON document.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ahasd.errors import AhasdError
from ahasd.outputs import OUT_ROOT
from ahasd.validation import json_text

ANALYTIC_NOTE = (
    "[yellow]mode=analytic rows come from the analytic model (docs/explore.md), a screen within "
    "a few percent of the event simulator; report only mode=event rows.[/]"
)


JOBS = typer.Option(
    None,
    "--jobs",
    "-j",
    min=1,
    max=1024,
    help="Worker processes (1 = serial; default: one per core).",
)
REBUILD = typer.Option(
    False, "--rebuild", help="Start the cache in --out afresh (deletes only files it wrote)."
)


def register(app: typer.Typer) -> None:
    """Attach ``sweep`` and ``explore`` to the root app."""
    app.command("sweep")(sweep)
    app.command("explore")(explore)


def sweep(
    spec: Path = typer.Argument(..., help="Sweep spec (YAML): base config + axes."),
    executor: str = typer.Option("local", "--executor", help="local (processes) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address."),
    jobs: int | None = JOBS,
    out: Path | None = typer.Option(
        None, "--out", help="Output/cache directory [default: ahasd-out/sweeps/NAME-HASH]."
    ),
    rebuild: bool = REBUILD,
    analytic: bool = typer.Option(False, "--analytic", help="Use the analytic model (screening)."),
    top: int = typer.Option(5, "--top", min=1, max=1000, help="Best points per objective."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Evaluate every point of a spec (grid or random); cached and resumable."""
    from ahasd.explore import get_executor
    from ahasd.explore.pareto import check_columns, parse_objectives
    from ahasd.explore.points import build_points
    from ahasd.explore.spec import load_spec
    from ahasd.explore.sweep import default_out_dir, run_sweep

    s = load_spec(spec)
    if analytic:
        s = s.model_copy(update={"mode": "analytic"})
    objectives = parse_objectives(s.objectives)
    ex = get_executor(executor, jobs=jobs, address=address)
    points = build_points(s)  # every point validated before any work starts
    out_dir = out if out is not None else default_out_dir(s, points)
    with _stopped_note(out_dir, [p.hash for p in points]):
        res = run_sweep(s, executor=ex, out_dir=out_dir, points=points, rebuild=rebuild)
    check_columns(res.rows, objectives)
    summary = {
        "spec": s.name,
        "mode": s.mode,
        "points": len(res.points),
        "cached": res.cached,
        "computed": res.computed,
        "errors": sum(1 for r in res.rows if r.get("error")),
        "results": str(res.results_path),
        "best": {o.name: _best(res.rows, o, top) for o in objectives},
    }
    if json_out:
        typer.echo(json_text(summary, default=str))
        return
    _print_summary(summary, res.rows, objectives, top)


def explore(
    spec: str = typer.Argument(..., help="A spec (YAML) path, or the word 'specpim'."),
    objectives: str = typer.Option(
        "throughput,tokens_per_joule",
        "--objectives",
        help="Comma list: throughput, tokens_per_joule, edp, energy, "
        "area, or max:COLUMN/min:COLUMN.",
    ),
    trials: int = typer.Option(64, "--trials", min=1, max=100_000, help="Points to evaluate."),
    population: int | None = typer.Option(
        None, "--population", min=2, max=10_000, help="NSGA-II population."
    ),
    confirm: int = typer.Option(
        8,
        "--confirm",
        min=0,
        max=100_000,
        help="Analytic mode: event-simulate this many Pareto points.",
    ),
    executor: str = typer.Option("local", "--executor", help="local (processes) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address."),
    jobs: int | None = JOBS,
    out: Path | None = typer.Option(
        None, "--out", help="Output/cache directory [default: ahasd-out/explore/NAME]."
    ),
    rebuild: bool = REBUILD,
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    draft: str | None = typer.Option(None, "--draft", help="specpim: draft model."),
    target: str | None = typer.Option(None, "--target", help="specpim: target model."),
    gamma: int | None = typer.Option(None, "--gamma", min=1, max=64, help="specpim: draft length."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="specpim: GA seed."),
    generations: int | None = typer.Option(
        None, "--generations", min=1, max=10_000, help="specpim: GA generations."
    ),
) -> None:
    """Multi-objective search over a spec's axes (NSGA-II), or `explore specpim` (the GA)."""
    if spec == "specpim":
        _specpim(
            draft=draft,
            target=target,
            gamma=gamma,
            seed=seed,
            generations=generations,
            population=population,
            json_out=json_out,
        )
        return
    for flag, value in (
        ("--draft", draft),
        ("--target", target),
        ("--gamma", gamma),
        ("--seed", seed),
        ("--generations", generations),
    ):
        if value is not None:
            raise AhasdError(f"{flag}: only for 'ahasd explore specpim'; a spec sets it in base")
    from ahasd.explore import get_executor
    from ahasd.explore.pareto import parse_objectives
    from ahasd.explore.search import run_search
    from ahasd.explore.spec import load_spec

    s = load_spec(spec)
    objs = parse_objectives(objectives)
    ex = get_executor(executor, jobs=jobs, address=address)
    out_dir = out or OUT_ROOT / "explore" / s.name
    with _stopped_note(out_dir, None):
        res = run_search(
            s,
            objectives=objs,
            trials=trials,
            executor=ex,
            out_dir=out_dir,
            population=population,
            confirm=confirm,
            rebuild=rebuild,
        )
    front = [r for r, f in zip(res.rows, res.front, strict=True) if f]
    front.sort(
        key=lambda r: (
            r.get("mode") != "event",
            -_num(r.get(objs[0].column)) if objs[0].maximize else _num(r.get(objs[0].column)),
        )
    )
    from ahasd.explore.search import confirmations

    confirmed = confirmations(res.rows)
    if json_out:
        typer.echo(
            json_text(
                {
                    "trials": len(res.rows),
                    "plot": str(res.plot_path),
                    "results": str(res.results_path),
                    "front": front,
                    "confirmed": [_confirmation(r) for r in confirmed],
                },
                default=str,
            )
        )
        return
    _print_front(front, objs, res)
    if confirmed:
        _print_confirmed(confirmed)


@contextmanager
def _stopped_note(out_dir: Path, hashes: list[str] | None) -> Iterator[None]:
    """Ctrl-C (exit 130) or a dead worker (exit 1): one line saying what is kept and how to resume.

    Finished chunks are already in the cache, so the same command picks up where this one stopped.
    """
    from ahasd.explore import WorkerLost

    try:
        yield
    except (KeyboardInterrupt, WorkerLost) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        saved = _saved(out_dir, hashes)
        reason = "interrupted" if interrupted else str(exc)
        typer.echo(
            f"error: {reason}; {saved} kept in {out_dir}; rerun the same command to resume",
            err=True,
        )
        raise SystemExit(130 if interrupted else 1) from None


def _saved(out_dir: Path, hashes: list[str] | None) -> str:
    """How many points the cache holds (of the sweep's, when known)."""
    manifest = out_dir / "manifest.json"
    try:
        parts = json.loads(manifest.read_text())["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        parts = []
    done = {h for part in parts for h in part.get("hashes", [])}
    if hashes is None:
        return f"{len(done)} finished points"
    return f"{len(done & set(hashes))} of {len(set(hashes))} points"


def _specpim(**kwargs: Any) -> None:
    """Delegate to the SpecPIM GA (peer-systems engineer), passing only the options given."""
    try:
        from ahasd.explore.specpim_ga import run_cli
    except ImportError as exc:
        raise AhasdError("explore specpim: the SpecPIM search is not in this build") from exc
    params = inspect.signature(run_cli).parameters
    json_flag = kwargs.pop("json_out")
    call = {k: v for k, v in kwargs.items() if v is not None and k in params}
    for name in ("json_out", "as_json", "json"):
        if name in params:
            call[name] = json_flag
            break
    run_cli(**call)


def _best(rows: list[dict[str, Any]], objective: Any, top: int) -> list[dict[str, Any]]:
    ok = [r for r in rows if isinstance(r.get(objective.column), (int, float))]
    ok.sort(key=lambda r: r[objective.column], reverse=objective.maximize)
    keep = [k for k in ok[0] if k.startswith("axis.")] if ok else []
    return [
        {**{k: r[k] for k in keep}, "mode": r.get("mode"), objective.column: r[objective.column]}
        for r in ok[:top]
    ]


def _print_summary(summary: dict[str, Any], rows, objectives, top: int) -> None:
    from rich.table import Table

    con = _console()
    con.print(
        f"[bold]{summary['spec']}[/]: {summary['points']} points ({summary['mode']}), "
        f"{summary['cached']} from cache, {summary['computed']} computed, "
        f"{summary['errors']} errors → {summary['results']}"
    )
    if summary["mode"] == "analytic":
        con.print(ANALYTIC_NOTE)
    for obj in objectives:
        best = summary["best"][obj.name]
        if not best:
            continue
        table = Table(title=f"best {top} by {obj.column} ({'max' if obj.maximize else 'min'})")
        for col in best[0]:
            table.add_column(_header(col))
        for r in best:
            table.add_row(*(_fmt(v) for v in r.values()))
        con.print(table)


def _print_front(front: list[dict[str, Any]], objectives, res) -> None:
    from rich.table import Table

    con = _console()
    axes = [k for k in (front[0] if front else {}) if k.startswith("axis.")]
    table = Table(title=f"Pareto front ({len(front)} of {len(res.rows)} points)")
    for col in ["mode", *axes, *(o.column for o in objectives)]:
        table.add_column(_header(col))
    for r in front:
        cells = [r.get("mode"), *(r.get(a) for a in axes), *(r.get(o.column) for o in objectives)]
        table.add_row(*(_fmt(v) for v in cells))
    con.print(table)
    if any(r.get("mode") == "analytic" for r in res.rows):
        con.print(ANALYTIC_NOTE)
    con.print(f"plot: {res.plot_path}  ·  all points: {res.results_path}")


def _confirmation(row: dict[str, Any]) -> dict[str, Any]:
    """One confirmed point: its trial, axes, and analytic vs event value of each metric."""
    out: dict[str, Any] = {"trial": row.get("confirms")}
    out.update({k: v for k, v in row.items() if k.startswith("axis.")})
    for key, diff in row.items():
        if key.startswith("event_vs_analytic."):
            metric = key.removeprefix("event_vs_analytic.")
            out[metric] = {"analytic": row.get(f"analytic.{metric}"), "event": row.get(metric),
                           "event_vs_analytic": diff}  # fmt: skip
    return out


def _print_confirmed(rows: list[dict[str, Any]]) -> None:
    """Which analytic Pareto points the event simulator re-ran, and how far the two differed."""
    from rich.table import Table

    con = _console()
    metrics = [k.removeprefix("event_vs_analytic.") for k in rows[0]
               if k.startswith("event_vs_analytic.")]  # fmt: skip
    table = Table(title=f"Confirmed by the event simulator ({len(rows)} analytic Pareto points)")
    table.add_column("trial")
    for m in metrics:
        table.add_column(f"{m} analytic")
        table.add_column(f"{m} event")
        table.add_column("diff")
    worst = 0.0
    for r in rows:
        cells = [str(r.get("confirms"))]
        for m in metrics:
            diff = r.get(f"event_vs_analytic.{m}")
            cells += [_fmt(r.get(f"analytic.{m}")), _fmt(r.get(m)),
                      f"{diff:+.1%}" if isinstance(diff, float) else "n/a"]  # fmt: skip
            if isinstance(diff, float):
                worst = max(worst, abs(diff))
        table.add_row(*cells)
    con.print(table)
    con.print(f"largest analytic vs event difference: {worst:.1%}")


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float("inf")


def _header(column: str) -> str:
    """The last component of an axis path (``axis.platform_overrides.pim.n_alu`` → ``n_alu``)."""
    return column.removeprefix("axis.").rsplit(".", 1)[-1] if column.startswith("axis.") else column


def _console():
    """A rich console; wide when piped so tables are not squeezed to 80 columns."""
    import sys

    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
