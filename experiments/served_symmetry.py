"""Every ground state from the server (issue 15): trained Table I models, exported as p_theta and as the
symmetrised p_G, served by a separate ``nm-tf serve`` process and asked with ``nm-tf modes``.

    python experiments/served_symmetry.py --preset quick   # L = 3, 6; one short anneal each
    python experiments/served_symmetry.py --preset paper   # L = 6, 7; Table I VCA runs, 3 seeds

For each run: ``nm-tf export`` twice (``--symmetry none`` and ``--symmetry kernel``), one ``nm-tf serve``
for all of them, then ``nm-tf modes --target`` (gRPC) for both exports and ``nm-tf modes --url`` (REST)
for p_G, 10^5 samples each: ground-state fraction, distinct and effective ground states, KL to uniform,
the exact smallest ground-state probability, chi^2 p-value. Writes served_symmetry.csv and
served_symmetry.{png,pdf}.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

from common import Experiment, figure, parser

PRESETS = {"quick": dict(sizes=(3, 6), seeds=1), "paper": dict(sizes=(6, 7), seeds=3)}
SAMPLES = 100_000
COLUMNS = ["run", "L", "seed", "degeneracy", "export", "protocol", "ground_state_fraction", "distinct_ground_states",
           "effective_ground_states", "kl_to_uniform", "min_ground_state_probability", "uniformity_p_value"]


def nm_tf(*args, **kw):
    """``nm-tf ARGS`` as a user runs it (a new process); its stdout."""
    r = subprocess.run([sys.executable, "-m", "nm_tf", *map(str, args)], capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit(f"nm-tf {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return r.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_available(server, url: str, names, timeout: float = 600.0):
    """Poll TF-Serving's model status (REST ``GET /v1/models/<name>``) until every model is AVAILABLE."""
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"nm-tf serve exited with {server.returncode} before {name} was AVAILABLE")
            try:
                with urllib.request.urlopen(f"{url}/v1/models/{name}", timeout=5) as r:
                    states = [v["state"] for v in json.load(r)["model_version_status"]]
                if "AVAILABLE" in states:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"model {name} did not become AVAILABLE within {timeout:.0f} s")
            time.sleep(1.0)


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "served_symmetry")
    pre = PRESETS[args.preset]
    tasks = [ex.standard("vca", L, s) for L in pre["sizes"] for s in range(pre["seeds"])]
    summaries = ex.run_all(tasks)
    models = ex.out / "served_models"
    exports = []
    for task in tasks:
        for kind in ("none", "kernel"):
            name = f"{task.name}_{'p_G' if kind == 'kernel' else 'p_theta'}"
            if not (models / name).exists():
                nm_tf("export", "--workdir", task.workdir, "--model-dir", models, "--name", name, "--symmetry", kind)
            exports.append((task, kind, name))
    grpc_port, rest_port = free_port(), free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen([sys.executable, "-m", "nm_tf", "serve", "--model-dir", str(models),
                               "--grpc-port", str(grpc_port), "--rest-port", str(rest_port)],
                              stdout=subprocess.DEVNULL, stderr=(ex.out / "served_symmetry_server.log").open("w"),
                              env=env)
    url, target = f"http://127.0.0.1:{rest_port}", f"127.0.0.1:{grpc_port}"
    rows = []
    try:
        t0 = time.monotonic()
        wait_until_available(server, url, [name for *_, name in exports])
        print(f"nm-tf serve: {len(exports)} models AVAILABLE after {time.monotonic() - t0:.0f} s", flush=True)
        for task, kind, name in exports:
            s = summaries[task.name]
            queries = [("grpc", "--target", target)] + ([("rest", "--url", url)] if kind == "kernel" else [])
            for protocol, flag, address in queries:
                out = nm_tf("modes", flag, address, "--model", name, "--samples", SAMPLES, "--seed", 1, "--json",
                            "--out", ex.out / "served_modes" / f"{name}_{protocol}", env=env)
                m = json.loads(out.strip().splitlines()[-1])
                rows.append([task.name, s["L"], int(task.name.rsplit("_s", 1)[1]), m["degeneracy"],
                             "p_G" if kind == "kernel" else "p_theta", protocol, m["ground_state_fraction"],
                             m["distinct_ground_states"], m["effective_ground_states"] or 0.0, m["kl_to_uniform"],
                             m["min_ground_state_probability"], m["uniformity_p_value"]])
                r = rows[-1]
                print(f"{name:>16} {protocol:>4}: ground-state fraction {r[6]:.4f}, {r[7]}/{r[3]} ground states, "
                      f"effective {r[8]:.2f}, KL {r[9] if r[9] is None else round(r[9], 4)}, "
                      f"min p {r[10]:.3g}, chi^2 p {r[11] if r[11] is None else round(r[11], 3)}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    ex.write_csv("", COLUMNS, rows)
    fig = figure((11, 3.9))
    for k, (col, label) in enumerate([(8, "effective ground states / degeneracy"),
                                      (9, "KL(ground-state counts | uniform) [nats]")]):
        ax = fig.add_subplot(1, 2, k + 1)
        for kind, marker in (("p_theta", "o"), ("p_G", "s")):
            sel = [r for r in rows if r[4] == kind and r[5] == "grpc"]
            y = [r[col] / r[3] if k == 0 else r[col] for r in sel]
            ax.plot(range(len(sel)), y, marker, ls="none",
                    label="served p_θ (the network)" if kind == "p_theta" else "served p_G (symmetrised)")
        if k == 1:                # a single ground state has KL ln D
            runs = [r for r in rows if r[4] == "p_theta" and r[5] == "grpc"]
            for L in sorted({r[1] for r in runs}):
                at = [i for i, r in enumerate(runs) if r[1] == L]
                deg = runs[at[0]][3]
                ax.plot([at[0] - 0.4, at[-1] + 0.4], [np.log(deg)] * 2, "k:", lw=1)
                ax.text(at[0] - 0.35, np.log(deg), f"ln {deg}: one state", fontsize=7, va="bottom")
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels([t.name.replace("vca_L", "L = ").replace("_s", "\nseed ") for t in tasks], fontsize=8)
        ax.set_xlabel("Table I VCA run (10⁵ samples per query, gRPC; REST gives the same numbers)", fontsize=8)
        ax.set_ylabel(label, fontsize=9)
        ax.legend(fontsize=7, loc="center right" if k == 0 else "upper left")
    fig.tight_layout()
    ex.save(fig)
    print("\n| run | export | protocol | ground-state fraction | ground states seen | effective | KL to uniform | "
          "smallest p(ground state) | chi^2 p |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        kl = "–" if r[9] is None else f"{r[9]:.4f}"
        pv = "–" if r[11] is None else f"{r[11]:.3g}"
        print(f"| {r[0]} | {r[4]} | {r[5]} | {r[6]:.4f} | {r[7]} / {r[3]} | {r[8]:.2f} | {kl} | {r[10]:.3g} | {pv} |")
    ex.finish(samples_per_query=SAMPLES)


if __name__ == "__main__":
    main()
