"""Progress lines: what the job waits for before its first step, percentage, elapsed time, rate, the exact value
beside the variational one, and each phase kept on its own line."""

import io

from nm_tf.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(stream):
    p = Progress(10, label="warm-up", stream=stream, waiting="compiling…", interval=0)
    for i in range(1, 11):
        p.update(i, **{"T": 10.0, "F/N": -1.5, "exact": -1.49})
    for a in range(1, 6):
        p.update(a, label="annealing", total=5, T=1.0)
    p.close()
    return stream.getvalue()


def test_plain_lines_say_what_happens():
    lines = _run(io.StringIO()).splitlines()
    assert lines[0] == "warm-up: compiling…"
    assert lines[-1].startswith("annealing 5/5 (100%) ") and "elapsed" in lines[-1] and "/s, ETA" in lines[-1]
    warm = [ln for ln in lines if ln.startswith("warm-up 10/10")]
    assert warm and "F/N=-1.5 exact=-1.49" in warm[-1]


def test_terminal_bar_keeps_the_warmup_line_when_annealing_starts():
    text = _run(_Terminal())
    assert "compiling…" in text
    last = text.rsplit("\x1b[1A", 1)[-1]          # the final redraw of both lines
    assert "warm-up" in last and "annealing" in last and "100%" in last
