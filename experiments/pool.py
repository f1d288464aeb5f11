"""Carry the run pool between machines through the repository.

A session's processes end with it, and the next session may get a fresh machine whose home directory
is empty: a pool kept only there loses its finished weights (so nothing can be sampled from those runs
again) and its runs in flight. This script keeps what another machine needs in the checkout:

    python experiments/pool.py save --out ~/nm-paper            # pool -> experiments/figures/paper
    python experiments/pool.py restore --out ~/nm-paper         # experiments/figures/paper -> pool

``save`` copies every finished run's configuration, summary, final weights and history (gzipped,
``history.csv.gz``) to ``runs/<name>/`` (the run's commit is its summary's ``code_commit``; ``code_commit.txt``
holds the commit the run started from only where the summary does not name it: older or dirty code) and packs
every unfinished run's configuration, history and checkpoints into ``inflight/<name>.tar.gz`` (a run that
diverged too, with its ``diverged.json``, which the studies read); an archive whose run has since finished is
removed. A committed run that has no weights or no history (kept before either was) is replaced by
the pool's rerun of the same configuration, and the two summaries' physics are printed side by side; where they
differ, the committed summary stays beside the new one as ``summary.<commit>.json``.
``restore`` puts back every committed run the pool lacks, finished ones first, then the archives.
Finished maximum-likelihood fits (``representability/<fit>/`` with its ``fit.json``) travel the same way:
``fit.json``, the weights and the gzipped history; a fit in progress as ``inflight/representability__<fit>.tar.gz``
(its checkpoints, from which it continues).
The overshoot study's caches (``overshoot_fits/``: finished thermal fits, a folder with its ``fit.json`` each, and
the annealed networks' metrics; ``overshoot_rows/``: the broken triangles per row of each kept point) are copied
both ways as they are (a fit's checkpoints stay behind); an entry already at the destination is never rewritten.
A thermal fit in progress travels as the fits above do: ``inflight/overshoot_fits__<fit>.tar.gz``.
``retire`` moves the pool's copies of committed runs that lack weights or history to ``OUT/retired/`` (kept, not
deleted), so that the figure scripts rerun them at the current code (issue 28); ``--only a,b`` limits it to those
runs. A pool copy that is itself complete or unfinished is a rerun (finished, or in flight) and stays.
``rerun --only a,b [--preset paper --jobs N]`` retires the named Table I runs (``<vca|vqa>_L<L>_s<seed>``) and runs
them again with the standard configuration, in the order given — so that the reruns a figure waits for can go first,
without the rest of its script's runs.
The snap-back study's scans (``snapback_landscapes/<run>/*.npz``) are copied both ways file by file, so its figure
is remade on a fresh machine without rescanning.
The tables a study extends point by point and resumes from (:data:`TABLES`: the curvature's noise and
held-out studies, hours per point at L = 16) travel as well: ``save`` copies the pool's table when it has more
rows than the checkout's, ``restore`` puts the checkout's back where the pool has none.
Which files travel is decided by ``RunDir.portable_files``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import shutil
import tarfile
import time
from pathlib import Path

from common import STANDARD_RUN, _pool_commit
from nm_tf.annealing.config import FIELD_GROUPS
from nm_tf.annealing.rundir import RunDir

HERE = Path(__file__).resolve().parent
COMMITTED = HERE / "figures" / "paper"
COMMIT_FILE = "code_commit.txt"
HISTORY_GZ = "history.csv.gz"
FITS = "representability"         # experiments/representability.py's folder of fits, in the pool and committed
FIT_FILES = ("fit.json", "model.weights.h5")
CHECKPOINTS = "checkpoints"       # a fit's checkpoint folder (nm_tf.representability's fits resume from it)
# the folders whose fits in progress travel as inflight/<folder>__<fit>.tar.gz (their checkpoints)
FITS_IN_PROGRESS = (FITS, "overshoot_fits")
# experiments/overshoot.py's finished fits and per-run tables; fig5's rescans (a scan in progress as its
# ``.partial.npz``, refreshed on every copy, dropped once the scan is done); the SA and PT baselines of
# stats_success.py and pt_reference.py (one JSON per method, L, seed and budget: hours each at L = 16 if redone)
CACHES = ("overshoot_fits", "overshoot_rows", "fig5_scans", "sa_runs", "pt_runs")
# experiments/snapback_landscapes.py's scans, one folder per run: its finished grids and planes (``*.npz``) travel
# file by file (the pictures are remade from them; a scan in progress restarts)
SCAN_FOLDERS = ("snapback_landscapes",)
PARTIAL = ".partial."
# tables that experiments/curvature_report.py extends point by point and skips the points of on a rerun, and Fig. 3's
# Lanczos e0(Gamma) grid, which the trainability study reads as its cache (without it, the SR report on a fresh
# machine recomputes the L = 5 points: tens of minutes)
TABLES = ("trainability_curvature_noise.csv", "trainability_curvature_heldout.csv", "fig3_exact.csv")
INSTRUMENT_FIELDS = set(FIELD_GROUPS["landscape and trajectory"])
COMPARED = ("energy_per_spin_mean", "ground_state_fraction", "distinct_ground_states", "ground_state_in_final_sample")


def _gzip(src: Path, dest: Path):
    # mtime 0: the same history gives the same bytes, so an unchanged run shows no diff in git
    with open(src, "rb") as fh, gzip.GzipFile(dest, "wb", mtime=0) as out:
        shutil.copyfileobj(fh, out)


@contextlib.contextmanager
def _tar_gz(dest: Path):
    """A tar.gz writer whose gzip header carries no time: an archive of unchanged files has the same bytes, so a
    run that waits in flight shows no diff in git from one save to the next."""
    with gzip.GzipFile(dest, "wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        yield tar


def _commit_of(pool: Path, run: RunDir) -> str | None:
    """The commit the run started from: noted beside it or the pool (``_pool_commit``), else its summary's."""
    noted = _pool_commit(pool, run.path)
    return noted or (run.summary().get("code_commit") if run.finished else None)


def _recorded(summary: dict, commit: str) -> bool:
    """True when the summary's own ``code_commit`` already names ``commit`` (a clean checkout): then a run's one
    commit record is its summary, and ``code_commit.txt`` would be a second copy."""
    own = str(summary.get("code_commit") or "")
    return bool(own) and not own.endswith("+dirty") and own.startswith(commit.strip())


def drop_redundant_commit_files(dest: Path) -> int:
    """Remove ``code_commit.txt`` where the run's summary names the same commit; returns how many."""
    dropped = 0
    for path in sorted((dest / "runs").glob(f"*/{COMMIT_FILE}")):
        summary = path.parent / "summary.json"
        if summary.exists() and _recorded(json.loads(summary.read_text()), path.read_text()):
            path.unlink()
            dropped += 1
    return dropped


def _save_trajectory_tables(run: RunDir, target: Path):
    """Copy the tables computed from a finished run's trajectory (the curvature, one row per finished point) that
    are new or have grown since the run was committed, and its landscape snapshots that the committed copy lacks
    (carried since session 18: earlier commits of a run left them behind)."""
    for table in run.trajectory_tables() + run.landscape_scans():
        rel = table.relative_to(run.path)
        dest = target / rel
        if not dest.exists() or dest.read_bytes() != table.read_bytes():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(table, dest)
            print(f"{run.path.name}: {rel} saved")


def save(pool: Path, dest: Path):
    runs, inflight = dest / "runs", dest / "inflight"
    dropped = drop_redundant_commit_files(dest)
    if dropped:
        print(f"{dropped} code_commit.txt files removed: their summaries name the same commit")
    for path in sorted((pool / "runs").iterdir()):
        run = RunDir(path)
        if not run.exists:
            continue
        if run.finished:
            target = runs / path.name
            committed = RunDir(target)
            if committed.weights_path.exists() and ((target / HISTORY_GZ).exists() or not run.history_path.exists()):
                _save_trajectory_tables(run, target)   # committed complete (or restored from it): only these grow
                continue
            if committed.summary_path.exists():
                # fields that only add instruments (in-run landscapes, kept trajectories) do not change the training
                changed = [f for f in RunDir(target).differences(run.config()) if f not in INSTRUMENT_FIELDS]
                if changed:
                    raise SystemExit(f"{target} holds another configuration than {path} ({', '.join(changed)}); "
                                     "not replaced")
                old, new = json.loads(committed.summary_path.read_text()), run.summary()
                print(f"{path.name}: rerun of a committed run without weights or history, now replaced:")
                for key in COMPARED:
                    print(f"    {key}: committed {old.get(key)}  rerun {new.get(key)}")
                if any(old.get(k) != new.get(k) for k in COMPARED):
                    # Figures made from the earlier run still cite its numbers: keep them beside the new ones.
                    kept = target / f"summary.{str(old.get('code_commit') or 'earlier')[:7]}.json"
                    shutil.copy2(committed.summary_path, kept)
                    print(f"    the numbers differ: the committed summary is kept as {kept.name}")
            target.mkdir(parents=True, exist_ok=True)
            for f in run.portable_files():
                if f == run.history_path:
                    _gzip(f, target / HISTORY_GZ)
                else:
                    rel = f.relative_to(path)           # e.g. trajectory/step*.npz keep their folder
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, target / rel)
            commit = _commit_of(pool, run)
            if commit and not _recorded(run.summary(), commit):
                (target / COMMIT_FILE).write_text(commit + "\n")
            (inflight / f"{path.name}.tar.gz").unlink(missing_ok=True)
            print(f"{path.name}: finished, saved to {target}")
        else:
            inflight.mkdir(parents=True, exist_ok=True)
            archive = inflight / f"{path.name}.tar.gz"
            tmp = archive.with_name(archive.name + ".tmp")
            for attempt in range(5):
                try:
                    _pack_in_flight(pool, run, tmp)
                    break
                except FileNotFoundError:
                    # the run, still training, replaced a checkpoint while it was being packed: list it again
                    time.sleep(2)
            else:
                raise SystemExit(f"{path.name}: its files kept changing while being packed (5 tries); save again")
            tmp.replace(archive)
            steps = len(run.history())
            # a run that stopped on non-finite steps travels the same way (its diverged.json tells the studies)
            state = "diverged" if run.diverged() else "in flight"
            print(f"{path.name}: {state} ({steps} history rows), packed into {archive}")


def _pack_in_flight(pool: Path, run: RunDir, tmp: Path):
    with _tar_gz(tmp) as tar:
        for f in run.portable_files():
            tar.add(f, arcname=str(f.relative_to(run.path)))
        commit = _commit_of(pool, run)
        if commit:
            data = (commit + "\n").encode()
            info = tarfile.TarInfo(".commit")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def save_fits(pool: Path, dest: Path):
    for path in sorted((pool / FITS).iterdir()) if (pool / FITS).is_dir() else []:
        target = dest / FITS / path.name
        if not (path / "fit.json").exists() or (target / "fit.json").exists():
            continue               # in progress (pack_fits_in_progress), or committed already (never rewritten)
        target.mkdir(parents=True, exist_ok=True)
        for name in FIT_FILES:
            shutil.copy2(path / name, target / name)
        _gzip(path / "history.csv", target / HISTORY_GZ)
        print(f"{FITS}/{path.name}: finished fit saved to {target}")


def pack_fits_in_progress(pool: Path, dest: Path):
    """Pack the checkpoints of every fit in progress in the :data:`FITS_IN_PROGRESS` folders into
    ``dest/inflight/<folder>__<fit>.tar.gz``; drop the archive of a fit that has finished since."""
    for folder in FITS_IN_PROGRESS:
        for path in sorted((pool / folder).iterdir()) if (pool / folder).is_dir() else []:
            archive = dest / "inflight" / f"{folder}__{path.name}.tar.gz"
            if (path / "fit.json").exists():
                archive.unlink(missing_ok=True)
            elif (path / CHECKPOINTS).is_dir():
                archive.parent.mkdir(parents=True, exist_ok=True)
                tmp = archive.with_name(archive.name + ".tmp")
                with _tar_gz(tmp) as tar:
                    tar.add(path / CHECKPOINTS, arcname=CHECKPOINTS)
                tmp.replace(archive)
                print(f"{folder}/{path.name}: in progress, packed into {archive}")


def _fit_archive_folder(archive: Path) -> str | None:
    """The :data:`FITS_IN_PROGRESS` folder an archive in ``inflight/`` belongs to (None: a run's archive)."""
    return next((f for f in FITS_IN_PROGRESS if archive.name.startswith(f"{f}__")), None)


def restore_fits(pool: Path, src: Path):
    for target in sorted((src / FITS).iterdir()) if (src / FITS).is_dir() else []:
        dest = pool / FITS / target.name
        if dest.exists():
            continue
        dest.mkdir(parents=True)
        for name in FIT_FILES:
            shutil.copy2(target / name, dest / name)
        with gzip.open(target / HISTORY_GZ, "rb") as fh, open(dest / "history.csv", "wb") as out:
            shutil.copyfileobj(fh, out)
        print(f"{FITS}/{target.name}: finished fit restored")
    for archive in sorted((src / "inflight").glob("*__*.tar.gz")) if (src / "inflight").is_dir() else []:
        folder = _fit_archive_folder(archive)
        if folder is None:
            continue
        dest = pool / folder / archive.name[len(folder) + 2:-len(".tar.gz")]
        if dest.exists():
            continue
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        print(f"{folder}/{dest.name}: fit in progress restored; it continues from its last checkpoint")


def copy_caches(src: Path, dest: Path, verb: str):
    """Copy every finished entry of the :data:`CACHES` folders from ``src`` to ``dest`` that ``dest`` lacks: a file,
    or a folder holding its ``fit.json`` (without its checkpoints; a fit in progress travels as an archive,
    :func:`pack_fits_in_progress`); a scan's partial grid is copied every time until its scan is done, then
    removed from ``dest``. The :data:`SCAN_FOLDERS` travel one level deeper: each finished ``<run>/*.npz``."""
    for cache in CACHES:
        for entry in sorted((src / cache).iterdir()) if (src / cache).is_dir() else []:
            target = dest / cache / entry.name
            partial = PARTIAL in entry.name
            if partial and entry.with_name(entry.name.replace(PARTIAL, ".")).exists():
                continue           # its scan is done: the grid travels, the partial is dropped below
            if (target.exists() and not partial) or entry.name.endswith(".tmp") \
                    or (entry.is_dir() and not (entry / "fit.json").exists()):
                continue
            _copy_whole(entry, target)
            print(f"{cache}/{entry.name}: {verb}")
        for stale in (dest / cache).glob(f"*{PARTIAL}*") if (dest / cache).is_dir() else []:
            if stale.with_name(stale.name.replace(PARTIAL, ".")).exists():    # its scan is done
                stale.unlink()
    for folder in SCAN_FOLDERS:
        for entry in sorted((src / folder).glob("*/*.npz")):
            target = dest / folder / entry.parent.name / entry.name
            if target.exists() or PARTIAL in entry.name:
                continue
            _copy_whole(entry, target)
            print(f"{folder}/{entry.parent.name}/{entry.name}: {verb}")


def _copy_whole(entry: Path, target: Path):
    """Copy a file or folder (without a fit's checkpoints) under a temporary name, then rename it into place, so
    an interrupted copy never leaves a half entry that a later call would take as finished."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if entry.is_dir():
        shutil.copytree(entry, tmp, ignore=shutil.ignore_patterns(CHECKPOINTS))
    else:
        shutil.copy2(entry, tmp)
    tmp.replace(target)


def _rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def copy_tables(src: Path, dest: Path, verb: str):
    """Copy each of :data:`TABLES` from ``src`` to ``dest`` where ``dest`` has none or fewer rows (they only grow)."""
    for name in TABLES:
        table, target = src / name, dest / name
        if not table.exists() or (target.exists() and _rows(target) >= _rows(table)):
            continue
        _copy_whole(table, target)
        print(f"{name}: {verb} ({_rows(table) - 1} rows)")


def restore(pool: Path, src: Path):
    (pool / "runs").mkdir(parents=True, exist_ok=True)
    in_flight = {a.name[:-len(".tar.gz")] for a in (src / "inflight").glob("*.tar.gz")} \
        if (src / "inflight").is_dir() else set()
    for target in sorted((src / "runs").iterdir()) if (src / "runs").is_dir() else []:
        dest = pool / "runs" / target.name
        if dest.exists() or not RunDir(target).weights_path.exists():
            continue              # present already, or committed before weights were kept: rerun it
        # A run with weights but no history is restored (retire it to rerun it), unless it is retired in this pool
        # already or its rerun is in flight: restoring it then would stop the rerun (the study takes it as done).
        if not (target / HISTORY_GZ).exists() and (target.name in in_flight
                                                   or (pool / "retired" / target.name).exists()):
            continue
        dest.mkdir(parents=True)
        for f in target.iterdir():     # figure scripts may keep more beside a run (landscape scans): keep them
            if f.name == HISTORY_GZ:
                with gzip.open(f, "rb") as fh, open(RunDir(dest).history_path, "wb") as out:
                    shutil.copyfileobj(fh, out)
                continue
            name = ".commit" if f.name == COMMIT_FILE else f.name
            (shutil.copytree if f.is_dir() else shutil.copy2)(f, dest / name)
        print(f"{target.name}: finished run restored")
    for archive in sorted((src / "inflight").glob("*.tar.gz")) if (src / "inflight").is_dir() else []:
        if _fit_archive_folder(archive):
            continue                # a fit in progress: restore_fits
        dest = pool / "runs" / archive.name[:-len(".tar.gz")]
        if dest.exists():
            continue
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise SystemExit(f"cannot unpack {archive}: {exc}") from None
        print(f"{dest.name}: run in flight restored; it resumes from its last checkpoint")


def incomplete(src: Path) -> list:
    """The committed runs that lack weights or history."""
    runs = sorted((src / "runs").iterdir()) if (src / "runs").is_dir() else []
    return [t.name for t in runs if RunDir(t).summary_path.exists()
            and not (RunDir(t).weights_path.exists() and (t / HISTORY_GZ).exists())]


def retire(pool: Path, src: Path, only=None):
    names = incomplete(src)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"not committed runs without weights or history: {', '.join(unknown)}")
        names = [n for n in names if n in only]
    moved = 0
    for name in names:
        path = pool / "runs" / name
        if not path.exists():
            continue
        copy = RunDir(path)
        if not copy.finished or (copy.weights_path.exists() and copy.history_path.exists()):
            state = "in flight" if not copy.finished else "finished with weights and history (save commits it)"
            print(f"{name}: the pool's copy is a rerun, {state}; left in place")
            continue
        dest = pool / "retired" / name
        if dest.exists():
            raise SystemExit(f"{dest} exists already; move it away first")
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)
        moved += 1
        print(f"{name}: retired to {dest}; its figure script reruns it")
    print(f"{moved} runs retired ({len(names)} committed runs lack weights or history)")


def rerun(pool: Path, src: Path, names: list, preset: str, jobs: int):
    """Retire the named committed Table I runs and run them again, in the order given."""
    from common import Experiment

    if not names:
        raise SystemExit("rerun needs --only with the runs to rerun")
    odd = [n for n in names if not STANDARD_RUN.fullmatch(n)]
    if odd:
        raise SystemExit(f"rerun takes Table I runs named <vca|vqa>_L<L>_s<seed>; not one: {', '.join(odd)}")
    retire(pool, src, names)
    ex = Experiment(argparse.Namespace(preset=preset, jobs=jobs, finished_only=False, out=str(pool)), "rerun")
    tasks = [ex.standard(m.group(1), int(m.group(2)), int(m.group(3))) for m in map(STANDARD_RUN.fullmatch, names)]
    ex.run_all(tasks)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("save", "restore", "retire", "rerun"))
    p.add_argument("--only", default=None, help="retire, rerun: comma-separated run names (retire's default: every "
                                                "incomplete run)")
    p.add_argument("--preset", choices=("quick", "paper"), default="paper", help="rerun: the protocol (default paper)")
    p.add_argument("--jobs", type=int, default=1, help="rerun: runs in parallel (default 1)")
    p.add_argument("--out", required=True, help="the run pool (its runs are in OUT/runs)")
    p.add_argument("--committed", default=str(COMMITTED), help=f"the folder in the checkout (default {COMMITTED})")
    args = p.parse_args()
    pool, committed = Path(args.out).expanduser(), Path(args.committed)
    if args.action == "save":
        if not (pool / "runs").is_dir():
            raise SystemExit(f"no run pool in {pool} (missing {pool / 'runs'})")
        save(pool, committed)
        save_fits(pool, committed)
        pack_fits_in_progress(pool, committed)
        copy_caches(pool, committed, "saved")
        copy_tables(pool, committed, "saved")
    elif args.action == "retire":
        retire(pool, committed, args.only.split(",") if args.only else None)
    elif args.action == "rerun":
        rerun(pool, committed, args.only.split(",") if args.only else [], args.preset, args.jobs)
    else:
        restore(pool, committed)
        restore_fits(pool, committed)
        copy_caches(committed, pool, "restored")
        copy_tables(committed, pool, "restored")


if __name__ == "__main__":
    main()
