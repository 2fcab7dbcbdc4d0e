"""The speed benchmark scripts run end to end on tiny settings and print their tables."""
from __future__ import annotations


def test_train_step_benchmark_counts_ops_of_both_models(tmp_path, capsys):
    import train_step

    assert train_step.main(["--batch", "4", "--res", "16", "--steps", "1", "--warmup", "1", "--device", "cpu",
                            "--threads", "1", "--out", str(tmp_path)]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| dcgan")
            or line.startswith("| style")]
    assert [r[1].strip() for r in rows] == ["dcgan", "style"]
    dcgan_ops, style_ops = (int(r[2]) for r in rows)
    assert 0 < dcgan_ops < style_ops  # the style step is the one with more, smaller operations


def test_width_benchmark_reports_each_width_with_its_layer_channels(capsys):
    import width

    assert width.main(["--bases", "256,512", "--res", "16", "--batch", "4", "--steps", "1", "--warmup", "1",
                       "--repeats", "1", "--threads", "1", "--d", "residual"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| 256")
            or line.startswith("| 512")]
    assert [r[2].strip() for r in rows] == ["64-32-16", "128-64-32"]  # min(base / res, 256) at 4, 8, 16 px
    narrow, wide = (float(r[3].split()[0]) for r in rows)
    assert wide > 2 * narrow  # doubling every layer's channels roughly quadruples the conv weights
