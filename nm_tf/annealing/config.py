"""Annealing configuration: one frozen dataclass, loadable from JSON/YAML, overridable."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from ..errors import UsageError
from ..exact.gf2 import MAX_EXACT_GROUP, SYMMETRIES, group_order
from ..lattice import ORDERINGS

__all__ = ["AnnealConfig", "PRESETS", "load_config_file"]

MODES = ("vca", "vqa")
SCHEDULES = ("linear", "exponential", "points")
SNAPSHOT_TAGS = ("before_warmup", "after_warmup", "mid_annealing", "end")
from ..models.options import CELL_TYPES as CELLS, INITS, MAX_PROB_FLOOR  # noqa: E402 - TensorFlow-free
NORMALIZATIONS = ("none", "filter", "layer")   # landscape directions (nm_tf.landscape.directions.normalize)
LOCAL_LOSSES = ("fresh", "stale")
OPTIMIZERS = ("adam", "sr")
# Named sets of field values; the fields given explicitly (flags, config file) override them, and
# config.json records the resolved values. "authors": the protocol of the authors' public code
# (github.com/smorawetz/Tensorflow-VQA, read November 2026) with Table I's other values.
PRESETS = {
    "none": {},
    "authors": {"ordering": "raster-wrap", "lr": 1e-3, "minibatch": 10, "local_loss": "stale", "init": "authors",
                "dtype": "float64", "prob_floor": 1e-8, "vqa_baseline_scale": 0.25},
}
# Upper bounds from memory (24 GB machines; a training step keeps the hidden states of every
# site: N * samples * hidden * 4 bytes, 1 GB at L = 128, 1000 samples, d_h = 40, x3 for the
# backward pass), and from the row loop being unrolled L sites per row at compile time.
MAX_L = 128
MAX_L_REASON = "the sampler unrolls L sites per row when compiling, and a step keeps N = L^2 hidden states"
MAX_SAMPLES = 100_000
MAX_FINAL_SAMPLES = 10_000_000
MAX_HIDDEN = 1024
MAX_STEP_BYTES = 8 << 30
MEMORY_NOTE = "a step keeps L^2 x samples x hidden floats; larger would exceed this machine's memory"
MAX_CONFIG_BYTES = 1 << 20


def _field(default, help_text: str):
    """A config field with its one line of meaning (the CLI's --help and TensorBoard's HParams read it)."""
    return dataclasses.field(default=default, metadata={"help": help_text})


FIELD_CHOICES = {"mode": MODES, "schedule": SCHEDULES,
                 "cell": CELLS, "ordering": ORDERINGS, "dtype": ("float32", "float64"), "init": INITS,
                 "local_loss": LOCAL_LOSSES, "preset": tuple(PRESETS), "optimizer": OPTIMIZERS,
                 "landscape_normalization": NORMALIZATIONS,
                 "symmetry": SYMMETRIES}


@dataclasses.dataclass(frozen=True)
class AnnealConfig:
    """Everything that defines a run (defaults: the paper's Table I).

    ``T0`` defaults to 10 for VCA and 0 for VQA; ``gamma0`` to 0 for VCA and 10
    for VQA (both may be non-zero). Both are annealed with the same schedule
    shape: ``linear`` ``x(t) = x0 (1 - t)``, ``exponential``
    ``x0 (e^{-5t} - e^{-5}) / (1 - e^{-5})`` or ``points``: piecewise linear
    through ``schedule_points`` = ``[[t, fraction], ...]`` from (0, 1) to (1, 0).
    ``T_final``/``gamma_final`` (default 0) end the anneal at a finite value
    instead: ``x(t) = x_final + (x0 - x_final) fraction(t)``. At small
    ``T_final > 0`` the free-energy minimiser is close to the uniform mixture of
    all ground states, so the entropy term keeps rewarding coverage (mode-collapse study).

    ``landscape`` lists the snapshots (of ``SNAPSHOT_TAGS``) at which a loss
    landscape is scanned during the run; ``landscape_*`` set that scan
    (``landscape_samples`` defaults to ``samples``).
    """

    mode: str = _field("vca",
        "vca: classical annealing of the free energy F = <H> - T S; vqa: quantum annealing of <H - Gamma sum X>")
    L: int = _field(5,
        "linear lattice size; N = L^2 spins (2..128)")
    T0: float | None = _field(None,
        "initial temperature in units of J (default 10 for vca, 0 for vqa)")
    gamma0: float | None = _field(None,
        "initial transverse field in units of J (default 10 for vqa, 0 for vca)")
    warmup: int = _field(1000,
        "training steps at T0 / Gamma0 before annealing (Table I: 1000)")
    annealing_steps: int = _field(10000,
        "annealing steps from T0 / Gamma0 to the final value (Table I: 10000)")
    train_steps: int = _field(5,
        "training steps per annealing step (Table I: 5)")
    samples: int = _field(100,
        "N_s, configurations sampled per training step (Table I: 100)")
    minibatch: int | None = _field(None,
        "N_b: one Adam update per mini-batch of this many of the step's samples (Table I: 10; "
        "default: one update on all samples)")
    hidden: int = _field(40,
        "d_h, hidden units of the 2D RNN (Table I: 40)")
    cell: str = _field("vanilla",
        "RNN cell: vanilla (the paper's ELU), gru, triangle (also sees the site up and to the right, the "
        "second parent of the triangle that fixes a site in a ground state), or closing (the triangle cell; its "
        "last row also sees the row-0 spins of the triangles that close the periodic lattice)")
    ordering: str = _field("zigzag",
        "site order of the autoregressive product: zigzag (the paper's snake), raster, or raster-wrap "
        "(the authors' code: raster with the previous row's last site as a row's first horizontal input)")
    init: str = _field("glorot",
        "weight initialisation: glorot (one draw for the stacked kernel, zero bias) or authors (separate "
        "Glorot draws for W_h and W_v, Glorot hidden bias)")
    prob_floor: float = _field(0.0,
        "add this to both probabilities of every conditional and renormalise (authors: 1e-8; 0: off)")
    local_loss: str = _field("fresh",
        "fresh: each mini-batch's local losses at the current weights; stale: computed once per training "
        "step on all samples and reused by every mini-batch update (the authors' code; needs minibatch)")
    vqa_baseline_scale: float = _field(1.0,
        "vqa: the control variate is this times the mean local energy (1: the full baseline; "
        "authors: 0.25)")
    preset: str = _field("none",
        "a named set of field values that explicit flags and config keys override: none or authors "
        "(the authors' code: raster-wrap, lr 1e-3, minibatch 10, stale losses, their init, float64, "
        "prob floor 1e-8, vqa baseline 1/4)")
    lr: float = _field(1e-4,
        "learning rate (Table I, Adam: 1e-4; with optimizer sr the step size of plain SGD along the "
        "preconditioned gradient)")
    optimizer: str = _field("adam",
        "adam (Table I) or sr: stochastic reconfiguration, SGD along (S + sr_shift I)^-1 g with S the "
        "score covariance of each update's samples (vca: Fisher matrix; vqa: quantum geometric tensor)")
    sr_shift: float = _field(0.01,
        "optimizer sr: the diagonal shift added to S (regularises the solve; larger is closer to SGD)")
    clip_norm: float = _field(0.0,
        "clip the global gradient norm to this value before each Adam update (0: no clipping, the "
        "paper's protocol); a guard against the score spikes of a nearly deterministic network at low T")
    seed: int = _field(0,
        "seed of the weights and of every sample (the same seed repeats the run exactly)")
    J: float = _field(1.0,
        "coupling J of H = (J/2) sum over downward triangles of s_i s_j s_k")
    schedule: str = _field("linear",
        "shape of the anneal: linear, exponential, or points (piecewise linear through schedule_points)")
    T_final: float = _field(0.0,
        "temperature at the end of the anneal (0: the paper's; > 0 keeps entropy, for mode coverage)")
    gamma_final: float = _field(0.0,
        "transverse field at the end of the anneal")
    schedule_points: tuple | None = _field(None,
        "schedule=points: the fraction of the way from T0 (Gamma0) to the final value at each t of the anneal, "
        "from (0, 1) to (1, 0); a config file gives [[t, fraction], ...], the flag t:fraction pairs 0:1,0.5:0.3,1:0")
    penalty: float = _field(0.0,
        "lambda of the paper's trivial-state penalty: adds lambda x (number of down spins) to the loss")
    symmetry: str = _field("none",
        "train the symmetrised distribution p_G (none, kernel, kernel+translations; |G| <= 4096): samples "
        "g s with g uniform in G, log p_G by |G| teacher-forced passes; VQA uses psi_G = sqrt(p_G)")
    symmetry_score_draws: int = _field(0,
        "with a symmetry: 0 takes the gradient of log p_G through all |G| passes (exact); K > 0 "
        "through K images per sample drawn from p(g s)/sum_g p(g s) (unbiased, noisier, faster)")
    final_samples: int = _field(100_000,
        "configurations drawn from the final model for the summary and samples_final.npz")
    final_chunk: int = _field(10_000,
        "final samples drawn per call (memory)")
    checkpoint_every: int = _field(100,
        "annealing steps between checkpoints (a resumed run restarts from the last one)")
    histogram_every: int = _field(500,
        "annealing steps between weight histograms in TensorBoard")
    exact_points: int = _field(21,
        "annealing steps with a Lanczos reference for vqa at L = 5 (seconds each)")
    replicas: int = _field(1,
        "MirroredStrategy replicas (GPUs, or logical CPUs); the step's samples are split among them")
    jit: bool = _field(True,
        "XLA-compile the training step (true|false)")
    dtype: str = _field("float32",
        "float32 or float64 for the network")
    flip_samples: int = _field(0,
        "vqa: estimate the transverse-field term -Gamma sum_i psi(s^i)/psi(s) from this many sites per sample, "
        "drawn uniformly without replacement and weighted N/K (unbiased; 0: the exact sum over all N sites)")
    flip_chunk: int = _field(4096,
        "memory budget of the vqa flip amplitudes: rows per pass (configurations x L)")
    max_bad_steps: int = _field(20,
        "stop the run after this many consecutive NaN/inf steps")
    trajectory_every: int = _field(0,
        "keep the weights at step 0, after the warm-up and every this many annealing steps in "
        "trajectory/ (for nm-tf landscape --plane pca and nm-tf curvature --trajectory; 0: off)")
    trajectory_dense: str = _field("",
        "also keep the weights every K annealing steps while the annealed parameter (T for vca, "
        "Gamma for vqa) is in [LOW, HIGH]: LOW:HIGH:K, e.g. 0.1:0.35:10 (empty: off)")
    landscape: tuple = _field((),
        "snapshots to scan during the run (config file; the CLI flag is --landscape)")
    landscape_points: int = _field(200,
        "landscape grid points per axis (Table I: 200)")
    landscape_span: float = _field(1.0,
        "landscape plane: alpha, beta in [-span, span]")
    landscape_samples: int | None = _field(None,
        "samples per landscape point (default: samples)")
    landscape_seed: int = _field(0,
        "seed of the landscape directions and samples")
    landscape_crn: bool = _field(False,
        "the same samples' random numbers at every landscape point (true|false)")
    landscape_repeats: int = _field(1,
        "independent evaluations per landscape point")
    landscape_normalization: str = _field("none",
        "landscape directions: none (the paper's N(0,1)), filter or layer")
    landscape_orthogonalize: bool = _field(False,
        "make the second landscape direction orthogonal to the first (true|false)")

    def __post_init__(self):
        self._check_types()
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not isinstance(self.L, int) or isinstance(self.L, bool) or self.L < 2:
            raise UsageError(f"L must be an integer >= 2, got {self.L!r}")
        for name in ("T0", "gamma0", "lr", "clip_norm", "J", "penalty", "T_final", "gamma_final"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v) or v < 0):
                raise UsageError(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("T0", "gamma0", "J", "penalty", "T_final", "gamma_final"):
            v = getattr(self, name)
            if v is not None and v > MAX_ENERGY_SCALE:
                raise UsageError(f"{name} must be <= {MAX_ENERGY_SCALE:g}, got {v!r} (the training step computes "
                                 f"E + T log p in float32; far above J every temperature or field is the paramagnet)")
        if self.lr <= 0 or self.J <= 0:
            raise UsageError("lr and J must be > 0")
        for name in ("warmup", "annealing_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise UsageError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        for name in ("train_steps", "samples", "hidden", "final_samples", "final_chunk",
                     "checkpoint_every", "histogram_every", "replicas", "flip_chunk", "max_bad_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise UsageError(f"{name} must be a positive integer, got {v!r}")
        if self.minibatch is not None and (self.minibatch < 1 or self.samples % self.minibatch):
            raise UsageError(f"minibatch must divide samples ({self.samples}), got {self.minibatch}")
        if self.samples % self.replicas:
            raise UsageError(f"samples ({self.samples}) must be divisible by replicas ({self.replicas})")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        v = self.symmetry_score_draws
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise UsageError(f"symmetry_score_draws must be an integer >= 0, got {v!r}")
        if v and self.symmetry == "none":
            raise UsageError("symmetry_score_draws applies to training with a symmetry (--symmetry kernel or "
                             "kernel+translations)")
        if self.schedule == "points":
            pts = self.schedule_points
            if not pts or len(pts) < 2 or [tuple(p) for p in pts][0] != (0, 1) or tuple(pts[-1]) != (1, 0):
                raise UsageError("schedule_points must run from [0, 1] to [1, 0]")
            ts = [p[0] for p in pts]
            if ts != sorted(ts):
                raise UsageError("schedule_points must have increasing t")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.symmetry not in SYMMETRIES:
            raise UsageError(f"symmetry must be one of {', '.join(SYMMETRIES)}, got {self.symmetry!r}")
        if self.symmetry != "none":
            order = group_order(self.L, self.symmetry)
            if order > MAX_EXACT_GROUP:
                raise UsageError(f"symmetry {self.symmetry} at L={self.L} has |G| = {order} > {MAX_EXACT_GROUP}: "
                                 f"training on p_G costs |G| teacher-forced passes per sample; use a smaller group "
                                 f"or symmetrise only when sampling (nm-tf export/modes --symmetry)")
            if self.replicas != 1:
                raise UsageError("symmetry and replicas > 1 cannot be combined")
        for name in ("cell", "ordering", "init", "local_loss", "preset", "optimizer"):
            if getattr(self, name) not in FIELD_CHOICES[name]:
                raise UsageError(f"{name} must be one of {', '.join(FIELD_CHOICES[name])}, got {getattr(self, name)!r}")
        if not 0 <= self.prob_floor <= MAX_PROB_FLOOR:
            raise UsageError(f"prob_floor must be in [0, {MAX_PROB_FLOOR}], got {self.prob_floor!r}")
        if not 0 <= self.vqa_baseline_scale <= 1 or math.isnan(self.vqa_baseline_scale):
            raise UsageError(f"vqa_baseline_scale must be in [0, 1], got {self.vqa_baseline_scale!r}")
        if self.local_loss == "stale":
            if self.minibatch is None or self.minibatch == self.samples:
                raise UsageError("local_loss stale reuses the step's local losses across mini-batch updates: set "
                                 "minibatch to a divisor of samples smaller than it (authors: 10)")
            if self.symmetry != "none" or self.replicas != 1:
                raise UsageError("local_loss stale cannot be combined with a symmetry or replicas > 1")
        if not self.sr_shift > 0 or math.isinf(self.sr_shift):
            raise UsageError(f"sr_shift must be a finite number > 0, got {self.sr_shift!r}")
        if self.optimizer == "sr" and (self.symmetry != "none" or self.replicas != 1
                                       or (self.mode == "vqa" and self.vqa_baseline_scale != 1.0)):
            raise UsageError("optimizer sr cannot be combined with a symmetry, replicas > 1 or a vqa baseline "
                             "scale other than 1")
        if isinstance(self.trajectory_every, bool) or self.trajectory_every < 0:
            raise UsageError(f"trajectory_every must be an integer >= 0, got {self.trajectory_every!r}")
        self.trajectory_window       # parses and checks trajectory_dense
        v = self.flip_samples
        if isinstance(v, bool) or v < 0 or v > self.L * self.L:
            raise UsageError(f"flip_samples must be an integer in 0..N = {self.L * self.L}, got {v!r}")
        if v and (self.mode != "vqa" or self.symmetry != "none"):
            raise UsageError("flip_samples estimates VQA's transverse-field term: it needs --mode vqa and no symmetry")
        if self.T_final > self.T_start or self.gamma_final > self.gamma_start:
            raise UsageError(f"T_final ({self.T_final}) and gamma_final ({self.gamma_final}) must not exceed "
                             f"the initial T ({self.T_start}) and Gamma ({self.gamma_start})")
        bad = [t for t in self.landscape if t not in SNAPSHOT_TAGS]
        if bad:
            raise UsageError(f"landscape snapshots must be among {SNAPSHOT_TAGS}, got {bad}")

    def _check_types(self):
        """Every field has the type its annotation names (a JSON/YAML config is checked like a flag):
        ``"false"`` is not a bool, ``"5"`` not an int; an int is accepted where a float is expected."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            kind = str(f.type)
            if v is None and "None" in kind:
                continue
            if kind.startswith("bool"):
                ok, want = isinstance(v, bool), "true or false"
            elif kind.startswith("int"):
                ok, want = isinstance(v, int) and not isinstance(v, bool), "an integer"
            elif kind.startswith("float"):
                ok, want = isinstance(v, (int, float)) and not isinstance(v, bool), "a number"
            elif kind.startswith("str"):
                ok, want = isinstance(v, str), "a string"
            else:
                continue
            if not ok:
                raise UsageError(f"config field {f.name} must be {want}, got {v!r}")
        if self.L > MAX_L:
            raise UsageError(f"L must be <= {MAX_L}, got {self.L}: {MAX_L_REASON}")
        for name, limit in (("samples", MAX_SAMPLES), ("final_samples", MAX_FINAL_SAMPLES),
                            ("final_chunk", MAX_SAMPLES), ("hidden", MAX_HIDDEN)):
            if getattr(self, name) > limit:
                raise UsageError(f"{name} must be <= {limit}, got {getattr(self, name)} ({MEMORY_NOTE})")
        step_bytes = 12 * self.L ** 2 * max(self.samples, self.final_chunk) * self.hidden
        if step_bytes > MAX_STEP_BYTES:
            raise UsageError(f"L = {self.L} with {max(self.samples, self.final_chunk)} samples per pass and "
                             f"hidden {self.hidden} needs ~{step_bytes / 2 ** 30:.0f} GiB per step; the bound is "
                             f"{MAX_STEP_BYTES / 2 ** 30:.0f} GiB ({MEMORY_NOTE})")

    @property
    def T_start(self) -> float:
        return float(self.T0 if self.T0 is not None else (10.0 if self.mode == "vca" else 0.0))

    @property
    def gamma_start(self) -> float:
        return float(self.gamma0 if self.gamma0 is not None else (10.0 if self.mode == "vqa" else 0.0))

    @property
    def trajectory_window(self) -> tuple | None:
        """``trajectory_dense`` as ``(low, high, every)``, or None when it is empty."""
        text = self.trajectory_dense.strip()
        if not text:
            return None
        parts = text.split(":")
        try:
            low, high, every = float(parts[0]), float(parts[1]), int(parts[2])
            ok = len(parts) == 3 and math.isfinite(low) and math.isfinite(high) and 0 <= low < high and every >= 1
        except (ValueError, IndexError):
            ok = False
        if not ok:
            raise UsageError(f"trajectory_dense must be LOW:HIGH:K with 0 <= LOW < HIGH and K a positive integer "
                             f"(e.g. 0.1:0.35:10), got {self.trajectory_dense!r}")
        return low, high, every

    @property
    def total_steps(self) -> int:
        return self.warmup + self.annealing_steps * self.train_steps

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "AnnealConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict) -> "AnnealConfig":
        """Fields by name; with ``preset``, the preset's values first and ``data`` over them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise UsageError(f"unknown config keys: {sorted(unknown)}")
        preset = data.get("preset", "none")
        if preset not in PRESETS:
            raise UsageError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        data = {**PRESETS[preset], **data}
        for key in ("schedule_points", "landscape"):
            if data.get(key) is not None:
                data[key] = tuple(tuple(p) if isinstance(p, list) else p for p in data[key])
        return cls(**data)


# The fields by topic, for a grouped --help (every field in exactly one group; a test checks it).
FIELD_GROUPS = {
    "physics": ("mode", "L", "J", "T0", "gamma0", "penalty"),
    "schedule": ("warmup", "annealing_steps", "train_steps", "schedule", "schedule_points", "T_final", "gamma_final"),
    "network": ("hidden", "cell", "ordering", "init", "prob_floor", "dtype", "seed"),
    "training": ("samples", "minibatch", "optimizer", "lr", "sr_shift", "clip_norm", "local_loss",
                 "vqa_baseline_scale", "preset", "max_bad_steps", "replicas", "jit", "flip_samples", "flip_chunk"),
    "symmetry": ("symmetry", "symmetry_score_draws"),
    "landscape and trajectory": ("landscape", "landscape_points", "landscape_span", "landscape_samples",
                                 "landscape_seed", "landscape_crn", "landscape_repeats", "landscape_normalization",
                                 "landscape_orthogonalize", "trajectory_every", "trajectory_dense"),
    "output": ("final_samples", "final_chunk", "checkpoint_every", "histogram_every", "exact_points"),
}
# What a flag's value is, where it has a unit or a kind worth naming (the rest: N for counts, X for numbers).
# The largest temperature, field, coupling or penalty a run takes: T0 = 1e300 became inf in the float32 step and
# every update was skipped as non-finite (session 28); 1e6 J leaves E + T log p far inside float32's range.
MAX_ENERGY_SCALE = 1e6
FIELD_METAVARS = {"T0": "T/J", "gamma0": "Γ/J", "T_final": "T/J", "gamma_final": "Γ/J", "J": "J", "penalty": "λ/J",
                  "lr": "RATE", "sr_shift": "ε", "clip_norm": "NORM", "prob_floor": "P", "seed": "SEED",
                  "landscape_seed": "SEED", "landscape_span": "SPAN", "vqa_baseline_scale": "SCALE",
                  "trajectory_dense": "LOW:HIGH:K", "schedule_points": "t:f,t:f,..."}

# The fields' help lines, by name (a view of the metadata above: the CLI's --help and TensorBoard's HParams).
FIELD_HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(AnnealConfig)}


def load_config_file(path) -> dict:
    """Read a JSON or YAML mapping; raise ``ValueError`` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    if len(text) > MAX_CONFIG_BYTES:
        raise UsageError(f"config file {path} is {len(text)} bytes; a configuration is at most {MAX_CONFIG_BYTES}")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            # Aliases are refused before anything is built: a few hundred bytes of nested aliases expand to
            # gigabytes ("billion laughs"), and no configuration needs them.
            if any(isinstance(ev, yaml.AliasEvent) for ev in yaml.parse(text, Loader=yaml.SafeLoader)):
                raise UsageError(f"config file {path} uses YAML aliases (*name); write the values out")
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser errors differ by format
        raise UsageError(f"cannot parse config file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping of field names to values")
    return data
