"""The training recipe: batches (MixUp, CutMix, on the fly, equal steps), schedule, calibration, models."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from expander.pipeline import PRESETS, build_pipeline, preset_dict, scaled_pipeline
from train.batches import Mixing, TrainBatches
from train.cli import app
from train.fit import FitConfig, learning_rate
from train.metrics import expected_calibration_error

runner = CliRunner()


def flat_images(n: int = 8, size: int = 6) -> np.ndarray:
    """Image i is filled with the value 10 * i, so a mixed pixel says which images it came from."""
    return np.stack([np.full((size, size, 3), 10 * i, np.uint8) for i in range(n)])


def test_without_mixing_a_batch_is_the_images_and_one_hot_labels() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    batches = TrainBatches(flat_images(), labels, 3, seed=0, batch_size=8)
    x, y, w = next(batches.epoch(0))
    index = (x[:, 0, 0, 0] / 10).astype(int)
    assert sorted(index) == list(range(8))
    assert np.array_equal(y, np.eye(3, dtype=np.float32)[labels[index]])
    assert np.array_equal(w, np.ones(8, np.float32))


def test_mixup_blends_each_image_with_a_partner_and_its_label_by_the_same_weight() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    x, y, _ = next(TrainBatches(flat_images(), labels, 2, seed=3, batch_size=8, mixing=Mixing(mixup=0.4)).epoch(0))
    own = next(TrainBatches(flat_images(), labels, 2, seed=3, batch_size=8).epoch(0))[0][:, 0, 0, 0] / 10
    # A row whose partner has the other label shows the weight in its target: [lam, 1 - lam] or the reverse.
    row = next(r for r in range(8) if y[r].max() < 1)
    lam = float(y[row, labels[int(own[row])]])
    assert 0 < lam < 1
    partners = []
    for r in range(8):
        a = int(own[r])
        assert np.all(x[r] == x[r, 0, 0, 0])  # a blend of two flat images is flat
        b = (x[r, 0, 0, 0] / 10 - lam * a) / (1 - lam)  # the partner the pixels say
        assert b == pytest.approx(round(b), abs=1e-3) and 0 <= round(b) < 8
        b = round(b)
        partners.append(b)
        assert np.allclose(y[r], lam * np.eye(2)[labels[a]] + (1 - lam) * np.eye(2)[labels[b]], atol=1e-5)
    assert sorted(partners) == list(range(8))  # a permutation of the batch


def test_cutmix_pastes_one_box_and_weights_the_labels_by_its_area() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    batches = TrainBatches(flat_images(size=20), labels, 2, seed=1, batch_size=8, mixing=Mixing(cutmix=1.0))
    plain = next(TrainBatches(flat_images(size=20), labels, 2, seed=1, batch_size=8).epoch(0))[0]
    x, y, _ = next(batches.epoch(0))
    changed = (x != plain).any(axis=(0, 3))  # pixels where some image took its partner's pixels
    rows, cols = np.nonzero(changed)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert changed.sum() == box  # one rectangle, the same in every image
    area = box / 400
    for row in range(8):
        own = plain[row, 0, 0, 0] / 10
        partner = x[row, rows[0], cols[0], 0] / 10
        expected = (1 - area) * np.eye(2)[labels[int(own)]] + area * np.eye(2)[labels[int(partner)]]
        assert np.allclose(y[row], expected, atol=1e-5)


def test_with_both_each_batch_uses_one_of_them() -> None:
    labels = np.arange(8) % 2
    batches = TrainBatches(flat_images(size=20), labels, 2, seed=0, batch_size=4, mixing=Mixing(0.4, 1.0))
    kinds = set()
    for epoch in range(6):
        for x, _, _ in batches.epoch(epoch):
            values = np.unique(x[0])
            kinds.add("cutmix" if np.allclose(values, np.round(values / 10) * 10) else "mixup")
    assert kinds == {"cutmix", "mixup"}


def test_batches_repeat_for_a_seed_and_epoch_and_differ_across_epochs_on_the_fly() -> None:
    from expander.augment import Augmenter

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(6) % 2

    def make(seed):
        return TrainBatches(pixels, labels, 2, seed=seed, batch_size=6, augment=Augmenter(preset_dict("strong")))

    first, again = next(make(5).epoch(0)), next(make(5).epoch(0))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    second_epoch = next(make(5).epoch(1))
    order0, order1 = make(5).indices(make(5).positions(0)), make(5).indices(make(5).positions(1))
    same_image_epoch0 = first[0][list(order0).index(0)]
    same_image_epoch1 = second_epoch[0][list(order1).index(0)]
    assert not np.array_equal(same_image_epoch0, same_image_epoch1)  # a new copy of image 0 each epoch
    assert not any(np.array_equal(first[0][i], pixels[order0[i]].astype(np.float32)) for i in range(6))


def test_an_epoch_of_fewer_images_walks_through_the_set_in_turn() -> None:
    batches = TrainBatches(flat_images(10), np.arange(10) % 2, 2, seed=0, batch_size=4, epoch_images=4)
    assert batches.steps == 1
    seen = [int(v) for e in range(5) for x, _, _ in batches.epoch(e) for v in x[:, 0, 0, 0] / 10]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))


def test_class_weights_weight_each_sample_by_its_class() -> None:
    weights = np.array([0.5, 2.0], np.float32)
    labels = np.array([0, 0, 0, 1])
    _, y, w = next(TrainBatches(flat_images(4), labels, 2, seed=0, batch_size=4, class_weights=weights).epoch(0))
    assert np.array_equal(w, np.where(y[:, 1] == 1, 2.0, 0.5))


def test_cosine_schedule_warms_up_then_decays_to_zero() -> None:
    config = FitConfig(epochs=10, lr=0.01, warmup=2)
    schedule = learning_rate(config, steps_per_epoch=5)
    at = {step: float(schedule(step)) for step in (0, 5, 10, 30, 50)}
    assert at[0] == 0.0 and at[5] == pytest.approx(0.005) and at[10] == pytest.approx(0.01)
    assert at[30] == pytest.approx(0.005, rel=1e-4) and at[50] == pytest.approx(0.0, abs=1e-9)
    assert learning_rate(FitConfig(schedule="constant", lr=0.01), 5) == 0.01


def test_expected_calibration_error_is_the_gap_between_confidence_and_accuracy() -> None:
    # Ten predictions at 0.8 confidence, eight right: calibrated.
    probabilities = np.array([[0.8, 0.2]] * 10)
    assert expected_calibration_error(np.array([0] * 8 + [1] * 2), probabilities) == pytest.approx(0.0)
    # All at 0.9 and all wrong: 0.9 from perfect.
    assert expected_calibration_error(np.array([1] * 10), np.array([[0.9, 0.1]] * 10)) == pytest.approx(0.9)
    # Two bins: 0.6 confident half right (0.1 off), 1.0 confident all right (0 off): 0.05 over all.
    mixed = np.array([[0.6, 0.4]] * 4 + [[1.0, 0.0]] * 4)
    assert expected_calibration_error(np.array([0, 0, 1, 1, 0, 0, 0, 0]), mixed) == pytest.approx(0.05)


def test_scaled_pipeline_moves_strength_ranges_about_no_change() -> None:
    half = scaled_pipeline(preset_dict("traditional"), 0.5)["transform"]["transforms"]
    affine = half[0]
    assert affine["rotate"] == [-10.0, 10.0] and affine["scale"] == {"x": [0.925, 1.075], "y": [0.925, 1.075]}
    assert affine["translate_percent"] == {"x": [-0.05, 0.05], "y": [-0.05, 0.05]}
    assert affine["p"] == 1.0 and half[1] == {"__class_fullname__": "HorizontalFlip", "p": 0.5}
    assert half[2]["transforms"][0]["distort_limit"] == [-0.1, 0.1]
    assert half[3]["hue_shift_limit"] == [-7.5, 7.5]
    for name in PRESETS:
        assert scaled_pipeline(preset_dict(name), 1.0) == preset_dict(name)
        for magnitude in (0.25, 2.0, 5.0):
            build_pipeline(scaled_pipeline(preset_dict(name), magnitude)["transform"])  # albumentations accepts it


def test_train_models_lists_the_residual_net_with_its_parameter_count() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = {line.split(" ")[0]: line for line in result.output.splitlines()}
    assert set(lines) == {"smallnet", "cifar-cnn", "tiny", "resnet"}
    assert lines["resnet"].startswith("resnet (697,826 parameters): a small ResNet")
    assert lines["tiny"].startswith("tiny (132,562 parameters)")


def test_the_training_options_are_on_every_train_command() -> None:
    options = ("--schedule", "--warmup", "--weight-decay", "--label-smoothing", "--mixup", "--cutmix")
    for command in ("compare", "fit", "ablate", "curve", "search"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        missing = [o for o in options if o not in result.output]
        assert not missing, f"train {command} lacks {missing}"


def test_fit_config_round_trips_through_json() -> None:
    config = FitConfig(mixup=0.2, cutmix=1.0, online="keras", epoch_images=100)
    assert FitConfig(**json.loads(json.dumps(config.to_dict()))) == config


def test_label_smoothing_spreads_the_target_over_the_classes() -> None:
    from train.fit import create_compiled

    model = create_compiled(FitConfig(model="tiny", label_smoothing=0.1), (28, 28, 1), 2, steps_per_epoch=1)
    loss = float(model.loss(np.array([[1.0, 0.0]]), np.array([[0.9, 0.1]])))
    assert loss == pytest.approx(-(0.95 * np.log(0.9) + 0.05 * np.log(0.1)), rel=1e-5)


def test_weight_decay_shrinks_weights_but_not_batch_norm_or_biases() -> None:
    import keras

    from train.fit import create_compiled

    def one_step(weight_decay: float) -> dict[str, np.ndarray]:
        keras.utils.set_random_seed(0)
        config = FitConfig(model="resnet", lr=0.01, schedule="constant", weight_decay=weight_decay)
        model = create_compiled(config, (16, 16, 3), 2, steps_per_epoch=1)
        before = [(v.name, v.numpy().copy()) for v in model.trainable_variables]
        x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
        model.train_on_batch(x, np.eye(2, dtype=np.float32)[[0, 1, 0, 1]])
        return before, [v.numpy() for v in model.trainable_variables]

    before, plain = one_step(0.0)
    _, decayed = one_step(0.5)
    names = [name for name, _ in before]
    assert names.count("kernel") == 16 and {"gamma", "beta", "bias"} <= set(names)  # 1 + 6 x 2 + 2 + dense
    for (name, start), without, with_decay in zip(before, plain, decayed, strict=True):
        if name == "kernel":  # decoupled decay: w <- w - lr * wd * w, besides the same Adam step
            assert np.allclose(with_decay - without, -0.01 * 0.5 * start, atol=1e-6)
        else:
            assert np.array_equal(with_decay, without), name


def test_cycling_views_train_epoch_e_on_copy_e_mod_k_of_every_image() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    originals = flat_images()
    views = np.stack([originals + 1, originals + 2, originals + 3])  # copy k of image i: 10 * i + k + 1
    batches = TrainBatches(originals, labels, 2, seed=5, batch_size=4, views=views)
    for epoch in range(7):
        seen = np.concatenate([x[:, 0, 0, 0] for x, _, _ in batches.epoch(epoch)]).astype(int)
        assert sorted(seen % 10) == [epoch % 3 + 1] * 8  # every image once, all from copy e mod K
        assert sorted(seen // 10) == list(range(8))
        assert np.array_equal(
            np.concatenate([y for _, y, _ in batches.epoch(epoch)]), np.eye(2, dtype=np.float32)[labels[seen // 10]]
        )
    with pytest.raises(ValueError, match="do not hold copies"):
        TrainBatches(originals, labels, 2, seed=5, batch_size=4, views=views[:, :4])


def test_on_the_fly_augmentation_time_is_counted() -> None:
    labels = np.zeros(8, dtype=np.int64)

    def slow_flip(image: np.ndarray, seed: int) -> np.ndarray:
        deadline = time.process_time() + 0.005
        while time.process_time() < deadline:
            pass
        return image[:, ::-1]

    batches = TrainBatches(flat_images(), labels, 1, seed=0, batch_size=4, augment=slow_flip)
    assert batches.augment_seconds == 0.0
    list(batches.epoch(0))
    assert 8 * 0.005 <= batches.augment_seconds < 8 * 0.005 + 0.5
    plain = TrainBatches(flat_images(), labels, 1, seed=0, batch_size=4)
    list(plain.epoch(0))
    assert plain.augment_seconds == 0.0


def test_bfloat16_trains_in_bfloat16_and_leaves_float32_behind() -> None:
    from train.fit import create_compiled

    model = create_compiled(FitConfig(model="tiny", precision="bfloat16"), (16, 16, 3), 2, steps_per_epoch=4)
    assert {layer.dtype_policy.name for layer in model.layers if layer.weights} == {"mixed_bfloat16"}
    assert {w.dtype for w in model.weights} == {"float32"}  # the weights stay float32
    plain = create_compiled(FitConfig(model="tiny"), (16, 16, 3), 2, steps_per_epoch=4)
    assert {layer.dtype_policy.name for layer in plain.layers if layer.weights} == {"float32"}


def test_a_field_added_later_leaves_stored_runs_keys_alone_at_its_default() -> None:
    from train.store import digest

    later = ("precision", "online_magnitude")
    before = {k: v for k, v in FitConfig().to_dict().items() if k not in later}  # a run stored before they existed
    assert FitConfig().key_dict() == before
    assert digest(FitConfig().key_dict()) == digest(before)
    assert FitConfig(precision="bfloat16").key_dict() == {**before, "precision": "bfloat16"}
    assert FitConfig(online_magnitude=0.5).key_dict() == {**before, "online_magnitude": 0.5}


def test_native_bfloat16_reads_the_cpu_flags(tmp_path) -> None:
    from train.fit import native_bfloat16

    flags = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma {}\n"
    (tmp_path / "avx2").write_text(flags.format(""))
    (tmp_path / "sapphire").write_text(flags.format("avx512f avx512_bf16 amx_bf16 amx_tile"))
    (tmp_path / "zen4").write_text(flags.format("avx512f avx512_bf16"))
    assert native_bfloat16(str(tmp_path / "avx2")) is False
    assert native_bfloat16(str(tmp_path / "sapphire")) is True and native_bfloat16(str(tmp_path / "zen4")) is True
    assert native_bfloat16(str(tmp_path / "absent")) is None  # not Linux: no warning, no claim


def test_bfloat16_on_a_cpu_without_it_is_warned_about(monkeypatch, tmp_path) -> None:
    from conftest import SAMPLE

    import train.fit

    monkeypatch.setattr(train.fit, "native_bfloat16", lambda: False)
    args = ["fit", str(SAMPLE), "--model", "tiny", "--image-size", "28", "--epochs", "1", "-q", "--out"]
    slow = runner.invoke(app, [*args, str(tmp_path / "bf16"), "--precision", "bfloat16"])
    assert slow.exit_code == 0, slow.output
    assert slow.stderr.startswith("Warning: this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX), so "
                                  "--precision bfloat16 trains slower here, not faster")  # fmt: skip
    plain = runner.invoke(app, [*args, str(tmp_path / "f32")])
    assert plain.exit_code == 0 and "Warning" not in plain.stderr


def test_train_turns_on_onednn_unless_the_environment_says_otherwise() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "from train.fit import quiet_tensorflow; quiet_tensorflow(); import os; "
        "from tensorflow.python.util import _pywrap_util_port as port; "
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    on = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert on.stdout.split() == ["1", "True"]
    off = subprocess.run([sys.executable, "-c", probe], env={**env, "TF_ENABLE_ONEDNN_OPTS": "0"},
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert off.stdout.split() == ["0", "False"]
