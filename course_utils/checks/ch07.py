"""Checks for chapter 07 exercises (overriding ``train_step`` / ``test_step``).

Each check builds one small model from the student's ``keras.Model`` subclass on FIXED inputs
(fixed seeds, weights and data), runs ``fit()`` or ``evaluate()``, and compares the plain
numbers with values stored in this module (computed once from the reference answers). A
mismatch raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the
likely mistake: ``sample_weight`` dropped, ``training=True`` at evaluation, a metric fed the
wrong output, the sign of the input gradient left out, trackers never reset, regularization
losses lost by a hand-written loss, a Keras 2 idiom (``compiled_loss``, ``optimizer.minimize``)
that no longer exists, ... The module computes no expected value: the
hidden tests of the notebook judge other inputs against their own reference.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import all_close, fail, passed

__all__ = [
    "check_two_output_test_step",
    "check_adversarial_train_step",
    "check_penalty_trackers",
    "check_two_speed_step",
    "check_fixed_train_step",
]

# Stored results of the reference answers on the visible inputs below (float32 runs, rounded).
# Entries other than the first of each exercise are what a typical mistake gives on the same
# inputs, so the checks can name it. 7.1 lists evaluate()'s values in _OUTPUT_KEYS order, with
# and without sample weights.
_STORED: dict = {
    "7.1": {
        "weighted": [11.4105692, 10.6137571, 1.5936266, 2.4881458, 0.3392389],
        "plain": [7.3000774, 6.5865569, 1.4270414, 2.1846197, 0.3333333],
    },
    "7.2": {
        "after": [
            -1.0384271,
            -0.016189,
            0.5388935,
            -1.6962301,
            -1.383783,
            -0.9275768,
            0.9832752,
            1.1446197,
            0.3310563,
            0.4415557,
            -0.5333618,
            -1.1758986,
            0.4065474,
            0.7307426,
            -0.0336653,
            -1.99683,
            0.2688161,
            0.0938239,
            -0.7728413,
            0.7931377,
            1.4236767,
            0.850798,
            0.1747632,
            -0.5792797,
            0.4905371,
            -1.1872177,
            0.7908504,
            0.7012554,
            0.1851591,
            0.9240274,
            -0.516884,
            0.7600763,
            0.4952575,
            -0.0212688,
            0.7613567,
            -0.6754551,
            -0.3356259,
            -1.4906958,
            0.0189287,
            0.5593939,
            0.784196,
            0.3630154,
            0.6484879,
        ],
        "loss": 3.0367045,
        "acc": 0.3668058,
        "clean_only": [
            -1.0578976,
            -0.007379,
            0.5416671,
            -1.6933599,
            -1.3785697,
            -0.9509673,
            0.9744878,
            1.1553859,
            0.3325857,
            0.4246587,
            -0.5045658,
            -1.1814421,
            0.3953481,
            0.7381549,
            -0.0280869,
            -2.0197394,
            0.2712253,
            0.0807799,
            -0.7743211,
            0.8014627,
            1.3791181,
            0.8449293,
            0.1844824,
            -0.5797473,
            0.4874409,
            -1.2050023,
            0.7857721,
            0.7241181,
            0.185377,
            0.9243019,
            -0.5173762,
            0.7938987,
            0.4815196,
            -0.0413534,
            0.7669969,
            -0.6865738,
            -0.3301474,
            -1.4879886,
            0.0086532,
            0.5669622,
            0.7889393,
            0.3547289,
            0.6520311,
        ],
        "adversarial_only": [
            -1.0201572,
            -0.025123,
            0.5367652,
            -1.699118,
            -1.3892417,
            -0.9037833,
            0.9920493,
            1.1338395,
            0.3294151,
            0.4585355,
            -0.5605301,
            -1.1703022,
            0.4182315,
            0.7233616,
            -0.0395121,
            -1.9743675,
            0.2663079,
            0.10715,
            -0.7713031,
            0.7848232,
            1.4673165,
            0.8565965,
            0.1650129,
            -0.5787238,
            0.4936858,
            -1.1695055,
            0.7957519,
            0.6786416,
            0.1851113,
            0.9233917,
            -0.5162004,
            0.7260378,
            0.5092959,
            -0.0012687,
            0.7555497,
            -0.6640222,
            -0.3412518,
            -1.4936241,
            0.0291902,
            0.5520607,
            0.7796348,
            0.3709568,
            0.6451077,
        ],
        "sum": [
            -1.0713972,
            -0.0059438,
            0.4909771,
            -1.705369,
            -1.3699365,
            -0.8970352,
            0.9641179,
            1.1773219,
            0.3413309,
            0.4343771,
            -0.4679266,
            -1.177487,
            0.341181,
            0.7069814,
            0.0191654,
            -2.0132058,
            0.2778288,
            0.0626147,
            -0.781858,
            0.7987989,
            1.4079661,
            0.85721,
            0.2191054,
            -0.5739933,
            0.4544507,
            -1.0905172,
            0.7435555,
            0.6518494,
            0.2908319,
            0.8528653,
            -0.5513946,
            0.7102265,
            0.4983643,
            0.0254742,
            0.786579,
            -0.6937694,
            -0.3425339,
            -1.4161528,
            -0.0181993,
            0.5219789,
            0.8691053,
            0.3068327,
            0.6197613,
        ],
        "raw_gradient": [
            -1.0497051,
            -0.0083881,
            0.5404782,
            -1.6938236,
            -1.3774658,
            -0.9425336,
            0.9759285,
            1.1507089,
            0.332349,
            0.4300877,
            -0.5242805,
            -1.1800807,
            0.3964213,
            0.7357858,
            -0.0307281,
            -2.0059559,
            0.2709696,
            0.0833859,
            -0.7733297,
            0.8014946,
            1.3990211,
            0.8458944,
            0.1831691,
            -0.5781165,
            0.4903005,
            -1.1948436,
            0.780606,
            0.7191257,
            0.1865225,
            0.9240604,
            -0.5182803,
            0.7808265,
            0.4892522,
            -0.0360137,
            0.7663596,
            -0.6854759,
            -0.330608,
            -1.4875852,
            0.0098627,
            0.5653492,
            0.7898831,
            0.3554695,
            0.6503466,
        ],
        "unweighted": [
            -1.038204,
            0.0021513,
            0.5697684,
            -1.6903108,
            -1.3884616,
            -0.9356411,
            0.9763958,
            1.1195738,
            0.3274004,
            0.4542033,
            -0.5234973,
            -1.1655687,
            0.4376194,
            0.7412773,
            -0.0490879,
            -1.9962167,
            0.2770824,
            0.1166414,
            -0.7670818,
            0.7869566,
            1.4177589,
            0.866156,
            0.1534627,
            -0.5834015,
            0.5011262,
            -1.2166846,
            0.803872,
            0.7177005,
            0.1453972,
            0.9313239,
            -0.4844186,
            0.771699,
            0.4953946,
            -0.0330285,
            0.7324377,
            -0.6739691,
            -0.3081929,
            -1.5305047,
            0.0305747,
            0.5875568,
            0.7374917,
            0.4064842,
            0.6517234,
        ],
    },
    "7.3": {
        "epochs": [[0.8678319, 0.7284788, 0.139353], [0.7744493, 0.6565211, 0.1179282]],
        "epoch1_last_batch": [0.6810358, 0.4363724, 0.2446633],
        "epoch2_cumulative": [0.8211406, 0.6924999, 0.1286406],
        "evaluate": [4.5559673, 3.0186312, 1.537336],
    },
    "7.4": {
        "after": [
            0.22708,
            0.227302,
            0.7476097,
            -0.1989958,
            -0.848011,
            -0.2961228,
            0.0173075,
            0.1605689,
            -0.2360419,
            0.7920871,
            1.5550723,
            0.9955991,
            -0.3124703,
            0.0803906,
            0.3638759,
            0.2392942,
            -1.0389274,
            -1.4428021,
            0.1128838,
            1.4870239,
            0.2638586,
            0.8828539,
            0.2163497,
            0.1479045,
            -0.966134,
            -0.443387,
            0.4780159,
            0.5924364,
            0.4545589,
            0.5635807,
            0.0717559,
            0.6855041,
            1.1060356,
            1.0494606,
            -0.3768666,
            0.1593941,
            -1.0586077,
        ],
        "loss": 6.1582794,
        "mae": 1.6332561,
        "swapped": [
            -0.147914,
            0.560737,
            0.9330765,
            0.3001803,
            -0.6248644,
            0.171714,
            -0.4115041,
            -0.1118349,
            -0.9484218,
            0.4230471,
            1.7879231,
            0.8941155,
            -0.2896678,
            0.1770983,
            0.5809323,
            0.2133464,
            -0.8789513,
            -1.4476521,
            0.1869534,
            1.7117058,
            0.0367582,
            1.1566833,
            0.4207208,
            0.8367825,
            -0.7500836,
            -1.0769421,
            0.3996504,
            0.4217446,
            0.4371194,
            0.5262559,
            0.029319,
            0.450229,
            1.0636145,
            1.7990326,
            -0.1640088,
            -0.7701647,
            -1.3945227,
        ],
        "unweighted": [
            0.2369303,
            0.2197563,
            0.7421086,
            -0.2096358,
            -0.8482547,
            -0.3120216,
            0.0288027,
            0.1675753,
            -0.2171713,
            0.7944136,
            1.5475624,
            0.9980178,
            -0.3101996,
            0.0786122,
            0.3613347,
            0.2457871,
            -1.0461557,
            -1.4444196,
            0.1084685,
            1.4862305,
            0.2736383,
            0.876763,
            0.2118452,
            0.1361984,
            -0.9666599,
            -0.6471962,
            0.4473662,
            0.6149864,
            0.4444815,
            0.5111216,
            0.0096516,
            0.5837716,
            1.0943387,
            1.2544812,
            -0.2596467,
            -0.1837244,
            -1.1515813,
        ],
    },
    "7.6": {
        "after": [
            -0.5800188,
            1.7109544,
            0.9580431,
            0.4853782,
            1.0900531,
            -1.5298786,
            0.5935584,
            1.3747307,
            1.3039399,
            -1.5305449,
            -0.8791139,
            0.5480653,
            0.4000912,
            -0.7448982,
            1.2085123,
            -0.1262603,
            -0.1074992,
            -0.4252851,
            1.4787358,
            -1.2094705,
            1.4861059,
            -0.315456,
            -0.3170002,
            -0.3085587,
            0.0722467,
            -0.1900045,
            -0.4201131,
            1.0738114,
            0.8552617,
            -0.3522144,
            -0.3445133,
            1.774451,
            0.348546,
            0.11077,
            -0.4852277,
            -0.3418598,
            0.672305,
            0.5472059,
            0.868053,
            0.9257023,
            -0.6354637,
            -0.0857101,
            1.8126504,
            0.8839606,
            0.4308185,
            -0.1106,
            -0.2652286,
            -0.7851747,
            1.9970815,
            0.5412492,
            -0.5614982,
            -0.3915626,
            0.3791409,
            -0.83877,
            0.5507965,
        ],
        "loss": 6.0047312,
        "acc": 0.1826057,
        "no_regularization": [
            -0.5917016,
            1.7458879,
            0.9775629,
            0.4964023,
            1.111904,
            -1.5610203,
            0.6062063,
            1.4029366,
            1.3311137,
            -1.5615566,
            -0.896805,
            0.5575946,
            0.4073669,
            -0.7597932,
            1.2330943,
            -0.1273984,
            -0.1099289,
            -0.4339692,
            1.5077944,
            -1.2330709,
            1.4858364,
            -0.3154239,
            -0.3174061,
            -0.3083622,
            0.0724906,
            -0.1893938,
            -0.4201482,
            1.0740569,
            0.8552834,
            -0.3522197,
            -0.3444797,
            1.7744596,
            0.3448601,
            0.1120931,
            -0.4848446,
            -0.3416946,
            0.6755871,
            0.5482658,
            0.868937,
            0.9276927,
            -0.6355682,
            -0.0856407,
            1.8126855,
            0.8839066,
            0.4307854,
            -0.1105129,
            -0.2652628,
            -0.7851514,
            1.9970924,
            0.5415602,
            -0.5614942,
            -0.3918775,
            0.3791431,
            -0.8387835,
            0.5508078,
        ],
        "unweighted": [
            -0.5539421,
            1.7134076,
            0.9623824,
            0.4977445,
            1.0746469,
            -1.5314783,
            0.6295356,
            1.3812933,
            1.3400135,
            -1.5296003,
            -0.872683,
            0.5158041,
            0.3621042,
            -0.7420161,
            1.2269498,
            -0.0976888,
            -0.1127872,
            -0.4253984,
            1.4288882,
            -1.1942909,
            1.5119388,
            -0.3129206,
            -0.3074141,
            -0.3054563,
            0.2138505,
            -0.2347532,
            -0.5777915,
            1.0639186,
            0.8151175,
            -0.3313743,
            -0.3574518,
            1.8285441,
            0.3514958,
            0.1108096,
            -0.4866266,
            -0.3428009,
            0.6895112,
            0.547166,
            0.8648161,
            0.9217916,
            -0.6220497,
            -0.1214715,
            1.8349977,
            0.8856116,
            0.4399091,
            -0.1213416,
            -0.3136483,
            -0.7860705,
            2.046397,
            0.5743079,
            -0.653787,
            -0.3323324,
            0.4170067,
            -0.864998,
            0.5391586,
        ],
    },
}


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


def _keras2_hint(exc: Exception) -> None:
    """Turn the AttributeError of a Keras 2 idiom into a message naming it, else re-raise."""
    text = str(exc)
    for name, advice in [
        ("compiled_loss", "改用 self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)"),
        ("compiled_metrics", "遍历 self.metrics 调用 update_state，或用 self.compute_metrics(...)"),
        ("minimize", "在 GradientTape 里算损失，再 self.optimizer.apply(grads, variables)"),
        ("reset_states", "方法名是单数的 reset_state()"),
    ]:
        if name in text:
            fail(f"用了 Keras 2 的写法 {name}，Keras 3 里已经没有了：{advice}")
    raise exc


def _run(fn, what: str):
    """Run ``fn()``; name a missing override or a Keras 2 idiom instead of a bare traceback."""
    try:
        return fn()
    except NotImplementedError:
        fail(f"{what} 还没有实现（仍然是 raise NotImplementedError()）")
    except AttributeError as exc:
        _keras2_hint(exc)
    except ValueError as exc:
        if "No loss to compute" in str(exc):
            fail(f"{what} 走到了默认实现里的 compute_loss：是否忘了重写它（注意方法名拼写）？")
        if "values to unpack" in str(exc):
            fail(
                "拆包 data 失败：带 sample_weight 时 data 是 (x, y, sample_weight) 三元组，"
                "用 x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)"
            )
        raise
    except TypeError as exc:
        text = str(exc)
        if "multiple values for argument 'sample_weight'" in text:
            fail(
                "给一个 Mean 跟踪器传了 (y, y_pred, sample_weight)：多输出模型的 price_loss / "
                "kind_loss 是 compute_loss 自己更新的 Mean 跟踪器，只更新名为 loss 的那个和你自己的指标"
            )
        if "'NoneType' object is not subscriptable" in text:
            fail(
                '不带样本权重时 sample_weight 是 None，不能取 sample_weight["price"]：先判断是否为 None'
            )
        raise
    raise AssertionError("unreachable")


def _logs(logs, keys, what: str) -> dict:
    """Plain floats for ``keys`` from a logs / history dict, or fail naming what is missing."""
    if not isinstance(logs, dict):
        fail(f"{what} 应是字典，实际是 {type(logs).__name__}：train_step/test_step 要返回字典")
    missing = [k for k in keys if k not in logs]
    if missing:
        fail(
            f"{what} 缺少 {missing}（实际键 {sorted(logs)}）："
            "返回 {m.name: m.result() for m in self.metrics}，并按名字更新每个指标"
        )
    return {k: np.asarray(logs[k], dtype="float64") for k in keys}


def _flat(weights) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype="float64").ravel() for w in weights])


def _fill(model, seed: int, scale: float = 1.0) -> None:
    """The visible weights: normal noise times ``scale`` from ``default_rng(seed)``, in
    ``model.weights`` order (the recipe of ``course_utils.inspect.fill_weights``)."""
    from course_utils.inspect import fill_weights

    fill_weights(model, seed, scale=scale)


# ---------------------------------------------------------------- exercise 7.1

_OUTPUT_KEYS = ["loss", "price_loss", "kind_loss", "price_mae", "kind_accuracy"]


def _case_71(model_class):
    """Visible inputs of 7.1: Input(4) -> Dropout(0.5) -> Dense(6, tanh) -> {"price": Dense(1),
    "kind": Dense(3)}, weights N(0, 1), MSE + logits cross-entropy with loss_weights 1.0 / 0.5,
    12 samples, batch 4."""
    import keras

    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(6, activation="tanh")(keras.layers.Dropout(0.5)(inputs))
    outputs = {
        "price": keras.layers.Dense(1, name="price")(h),
        "kind": keras.layers.Dense(3, name="kind")(h),
    }
    model = model_class(inputs, outputs)
    if not isinstance(model, keras.Model):
        fail("TwoOutputEvalModel 应继承 keras.Model")
    _fill(model, 71)
    model.compile(
        optimizer="sgd",
        loss={"price": "mse", "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        loss_weights={"price": 1.0, "kind": 0.5},
    )
    rng = np.random.default_rng(72)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = {"price": rng.normal(size=(12, 1)).astype("float32"), "kind": rng.integers(0, 3, size=12)}
    w = rng.uniform(0.0, 3.0, size=12).astype("float32")
    return model, x, y, w


def check_two_output_test_step(model_class) -> None:
    """Exercise 7.1: ``test_step`` of a two-output model, total loss from ``compute_loss``,
    ``price_mae`` / ``kind_accuracy`` each on its own output with the sample weights."""
    want = {k: dict(zip(_OUTPUT_KEYS, v)) for k, v in _STORED["7.1"].items()}
    model, x, y, w = _case_71(model_class)

    def evaluate(weights):
        return model.evaluate(
            x, y, sample_weight=weights, batch_size=4, verbose=0, return_dict=True
        )

    got = _logs(_run(lambda: evaluate(w), "test_step"), _OUTPUT_KEYS, "evaluate 的结果")
    again = _logs(evaluate(w), _OUTPUT_KEYS, "第二次 evaluate 的结果")
    if not all(_close(got[k], again[k], 1e-6) for k in _OUTPUT_KEYS):
        fail(
            "同一份数据评估两次结果不同：前向计算应写 self(x, training=False)，Dropout 在评估时要关闭"
        )
    right, plain = want["weighted"], want["plain"]
    if not _close(got["loss"], right["loss"]):
        if _close(got["loss"], got["price_loss"] + got["kind_loss"]):
            fail(
                "loss 等于两个输出损失的直接相加，loss_weights 没有用上：总损失直接用 "
                "self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)"
            )
        if _close(got["loss"], plain["loss"]):
            fail("loss 没有按样本权重加权：把 sample_weight 传给 self.compute_loss")
        fail(
            f"loss 应为 {right['loss']:.5f}，实际是 {float(got['loss']):.5f}：用 self.compute_loss "
            "计算编译时的两个损失（它已经乘上了 loss_weights），并用 training=False"
        )
    if not (
        _close(got["price_loss"], right["price_loss"])
        and _close(got["kind_loss"], right["kind_loss"])
    ):
        fail(
            "price_loss / kind_loss 不对：这两个跟踪器由 self.compute_loss 自己更新，"
            "test_step 里不要再更新它们"
        )
    for key, output in [("price_mae", "price"), ("kind_accuracy", "kind")]:
        if not _close(got[key], right[key]):
            if _close(got[key], plain[key]):
                fail(
                    f'{key} 没有按样本权重加权：用 sample_weight["{output}"]（按输出拆好的权重）'
                    f'更新它：update_state(y["{output}"], y_pred["{output}"], sample_weight=...)'
                )
            fail(
                f"{key} 应为 {right[key]:.5f}，实际是 {float(got[key]):.5f}：它只看 "
                f'"{output}" 这个输出，用 y["{output}"] 和 y_pred["{output}"] 更新'
            )
    unweighted = _logs(
        _run(lambda: evaluate(None), "不带样本权重的 test_step"),
        _OUTPUT_KEYS,
        "不带 sample_weight 的 evaluate 结果",
    )
    if not all(_close(unweighted[k], plain[k]) for k in _OUTPUT_KEYS):
        fail("不带样本权重时结果不对：这时 sample_weight 是 None，各指标都不加权")
    passed()


# ---------------------------------------------------------------- exercise 7.2


def _case_72(model_class):
    """Visible inputs of 7.2: Input(4) -> Dense(5, tanh) -> Dense(3) logits, weights N(0, 1),
    epsilon=0.3, logits cross-entropy, SGD(0.1), two weighted batches of 4."""
    import keras

    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    model = model_class(inputs, keras.layers.Dense(3)(hidden), epsilon=0.3)
    if not isinstance(model, keras.Model):
        fail("AdversarialModel 应继承 keras.Model")
    _fill(model, 72)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    rng = np.random.default_rng(73)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.integers(0, 3, size=8)
    w = rng.uniform(0.2, 3.0, size=8).astype("float32")
    return model, x, y, w


def check_adversarial_train_step(model_class) -> None:
    """Exercise 7.2: FGSM adversarial training, the mean of the clean and adversarial losses."""
    want = _STORED["7.2"]
    model, x, y, w = _case_72(model_class)
    before = _flat(model.trainable_variables)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=4, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    after = _flat(model.trainable_variables)
    if np.allclose(after, before):
        fail("训练后权重没有变化：是否忘了 self.optimizer.apply(grads, self.trainable_variables)？")
    if not _close(after, want["after"]):
        for key, message in [
            (
                "clean_only",
                "权重和只在干净输入上训练时一样：扰动没有起作用。x_adv = x + epsilon * sign(dL/dx)，训练目标是 (L(x) + L(x_adv)) / 2",
            ),
            (
                "adversarial_only",
                "只在 x_adv 上训练了：训练目标是干净损失和对抗损失的平均 (L(x) + L(x_adv)) / 2",
            ),
            ("sum", "训练目标用了两份损失的和：题目要求平均 (L(x) + L(x_adv)) / 2"),
            (
                "raw_gradient",
                "扰动用了梯度本身：FGSM 用梯度的符号，x_adv = x + epsilon * tf.sign(梯度)",
            ),
            ("unweighted", "损失没有使用样本权重：sample_weight 要传给两次 self.compute_loss"),
        ]:
            if _close(after, want[key]):
                fail(message)
        fail(
            "更新后的权重与预期不同：先在一个 GradientTape 里 watch(x)、以 training=False 求损失对 x 的梯度，"
            "再在另一个 GradientTape 里对平均损失求权重的梯度"
        )
    logs = _logs(getattr(history, "history", None), ["loss", "acc"], "history.history")
    if not _close(logs["loss"][0], want["loss"]):
        fail(
            f"history 的 loss 应为 {want['loss']:.5f}，实际是 {float(logs['loss'][0]):.5f}："
            "名为 loss 的跟踪器用平均损失 (L(x) + L(x_adv)) / 2 更新"
        )
    if not _close(logs["acc"][0], want["acc"]):
        fail("history 的 acc 不对：其余指标用干净输入的预测 (y, y_pred, sample_weight) 更新")
    passed()


# ---------------------------------------------------------------- exercise 7.3


def _case_73(model_class):
    """Visible inputs of 7.3: Input(3) -> Dense(1), beta=0.5, SGD(0.05), 8 samples, batch 4."""
    import keras

    inputs = keras.Input(shape=(3,))
    model = model_class(inputs, keras.layers.Dense(1)(inputs), beta=0.5)
    if not isinstance(model, keras.Model):
        fail("PenalizedRegressor 应继承 keras.Model")
    _fill(model, 73)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    rng = np.random.default_rng(74)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    x_val = rng.normal(size=(8, 3)).astype("float32")
    y_val = rng.normal(size=(8, 1)).astype("float32")
    return model, x, y, x_val, y_val


def check_penalty_trackers(model_class) -> None:
    """Exercise 7.3: loss / mse / penalty trackers, reset every epoch, listed in ``metrics``."""

    want = _STORED["7.3"]
    model, x, y, x_val, y_val = _case_73(model_class)
    keys = ["loss", "mse", "penalty"]
    history = _run(
        lambda: model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0),
        "train_step",
    )
    logs = _logs(getattr(history, "history", None), keys, "history.history")
    extra = sorted(set(history.history) - set(keys))
    if extra:
        fail(f"history 里多了 {extra}：metrics 属性只列出自己的三个跟踪器，train_step 也只返回它们")
    epochs = np.asarray(want["epochs"])  # (epoch, key)
    got = np.stack([logs[k] for k in keys], axis=1)
    if got.shape != epochs.shape:
        fail(f"history 每个键应有 2 个值（每轮一个），实际形状 {got.shape}")
    if not _close(got[0], epochs[0]):
        if _close(got[0], want["epoch1_last_batch"]):
            fail("每轮报告的是最后一个批次的值：返回跟踪器的 result()，不要返回这一批的张量")
        if _close(got[0][1], epochs[0][1]) and not _close(got[0][2], epochs[0][2]):
            fail("penalty 不对：penalty = beta * mean(y_pred ** 2)，用构造参数 beta，不要写死")
        fail(
            f"第 1 轮的 (loss, mse, penalty) 应为 {np.round(epochs[0], 5).tolist()}，"
            f"实际是 {np.round(got[0], 5).tolist()}：检查公式、beta 和梯度（对 loss 求导）"
        )
    if not _close(got[1], epochs[1]):
        if _close(got[1], want["epoch2_cumulative"]):
            fail(
                "第 2 轮的数值包含了第 1 轮的数据：跟踪器没有在每轮开始时重置。"
                "把它们列在 metrics 属性里，fit() 才会每轮调用 reset_state()"
            )
        fail(
            f"第 2 轮的 (loss, mse, penalty) 应为 {np.round(epochs[1], 5).tolist()}，"
            f"实际是 {np.round(got[1], 5).tolist()}"
        )
    names = [getattr(m, "name", None) for m in model.metrics]
    if names != keys or [type(m).__name__ for m in model.metrics] != ["Mean"] * 3:
        fail(
            f"model.metrics 应正好是三个 Mean 跟踪器 {keys}（按这个顺序），实际是 {names}：重写 metrics 属性"
        )
    val = _logs(
        _run(
            lambda: model.evaluate(x_val, y_val, batch_size=4, verbose=0, return_dict=True),
            "test_step",
        ),
        keys,
        "evaluate 的结果",
    )
    if not _close([val[k] for k in keys], want["evaluate"]):
        fail(
            "evaluate() 的结果不对：test_step 用 training=False 计算同样的三个量，只更新跟踪器，不更新权重"
        )
    passed()


# ---------------------------------------------------------------- exercise 7.4


def _case_74(model_class):
    """Visible inputs of 7.4: base Dense(4 -> 5, tanh) with SGD(0.01), head Dense(5 -> 2) with
    SGD(0.2), MSE, two weighted batches of 5."""
    import keras

    base = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5, activation="tanh")])
    head = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2)])
    _fill(base, 74)
    _fill(head, 75)
    base_opt = keras.optimizers.SGD(learning_rate=0.01)
    model = model_class(base, head, base_opt)
    if not isinstance(model, keras.Model):
        fail("TwoSpeedModel 应继承 keras.Model")
    head_opt = keras.optimizers.SGD(learning_rate=0.2)
    model.compile(
        optimizer=head_opt,
        loss="mse",
        weighted_metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    rng = np.random.default_rng(76)
    x = rng.normal(size=(10, 4)).astype("float32")
    y = rng.normal(size=(10, 2)).astype("float32")
    w = rng.uniform(0.2, 3.0, size=10).astype("float32")
    return model, base, head, base_opt, head_opt, x, y, w


def check_two_speed_step(model_class) -> None:
    """Exercise 7.4: base layers updated by ``base_optimizer``, head by the compiled optimizer."""
    want = _STORED["7.4"]
    model, base, head, base_opt, head_opt, x, y, w = _case_74(model_class)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=5, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    base_steps = int(np.asarray(base_opt.iterations))
    head_steps = int(np.asarray(head_opt.iterations))
    if base_steps == 0:
        fail(
            "base_optimizer 一次也没有被调用：底座 (base) 的梯度要交给 self.base_optimizer.apply(...)"
        )
    if head_steps == 0:
        fail("编译时的优化器一次也没有被调用：头部 (head) 的梯度要交给 self.optimizer.apply(...)")
    if base_steps != 2 or head_steps != 2:
        fail(f"2 个批次后两个优化器各应更新 2 次，实际 base {base_steps} 次、head {head_steps} 次")
    got = _flat([*base.weights, *head.weights])
    if not _close(got, want["after"]):
        if _close(got, want["swapped"]):
            fail(
                "学习率用反了：底座应由 base_optimizer（小学习率）更新，头部由 self.optimizer 更新"
            )
        if _close(got, want["unweighted"]):
            fail("损失没有使用样本权重：拆出 sample_weight 并传给 self.compute_loss")
        fail(
            "更新后的权重与预期不同：在同一个 GradientTape 里算一次损失，分别对底座和头部的 "
            "trainable_variables 求梯度，每个优化器只更新自己那一部分"
        )
    logs = _logs(getattr(history, "history", None), ["loss", "mae"], "history.history")
    if not _close(logs["loss"][0], want["loss"]):
        fail(
            f"history 的 loss 应为 {want['loss']:.5f}，实际是 {float(logs['loss'][0]):.5f}：用 compute_loss 的结果更新 loss 指标"
        )
    if not _close(logs["mae"][0], want["mae"]):
        fail(
            "history 的 mae 不对：其余指标用 m.update_state(y, y_pred, sample_weight=sample_weight) 更新"
        )
    passed()


# ---------------------------------------------------------------- exercise 7.6


def _case_76(model_class):
    """Visible inputs of 7.6: Input(5) -> Dense(4, tanh, L2(0.05)) -> BatchNormalization(momentum
    0.5) -> Dense(3) logits, weights N(0, 1), logits cross-entropy, SGD(0.1), two weighted
    batches of 4."""
    import keras

    inputs = keras.Input(shape=(5,))
    h = keras.layers.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.05))(
        inputs
    )
    h = keras.layers.BatchNormalization(momentum=0.5)(h)
    model = model_class(inputs, keras.layers.Dense(3)(h))
    if not isinstance(model, keras.Model):
        fail("FixedStepModel 应继承 keras.Model")
    _fill(model, 76)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    rng = np.random.default_rng(77)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = rng.integers(0, 3, size=8)
    w = rng.uniform(0.2, 3.0, size=8).astype("float32")
    return model, x, y, w


def check_fixed_train_step(model_class) -> None:
    """Exercise 7.6: the fixed train_step trains in training mode (batch normalization updates
    its statistics) on the compiled loss plus the regularization losses, with sample weights."""
    want = _STORED["7.6"]
    model, x, y, w = _case_76(model_class)
    stats = [v for v in model.non_trainable_variables if "moving" in v.path]
    before_stats, before = _flat(stats), _flat(model.trainable_variables)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=4, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    if np.allclose(_flat(model.trainable_variables), before):
        fail("训练后权重没有变化：是否忘了 self.optimizer.apply(grads, self.trainable_variables)？")
    if np.allclose(_flat(stats), before_stats):
        fail(
            "训练后批归一化的 moving_mean / moving_variance 没有变化：前向计算没有进入训练模式。"
            "在 train_step 里写 self(x, training=True)"
        )
    after = _flat(model.weights)
    if not _close(after, want["after"]):
        if _close(after, want["no_regularization"]):
            fail(
                "正则化损失没有进入训练目标（L2 项不起作用）：用 self.compute_loss(x=x, y=y, "
                "y_pred=y_pred, sample_weight=sample_weight)，它在编译时的损失上加上 model.losses"
            )
        if _close(after, want["unweighted"]):
            fail("损失没有使用样本权重：把 sample_weight 传给 self.compute_loss")
        fail(
            "更新后的权重与预期不同：在 GradientTape 里用 self(x, training=True) 前向、"
            "self.compute_loss(...) 算损失，再对 self.trainable_variables 求梯度并更新"
        )
    logs = _logs(getattr(history, "history", None), ["loss", "acc"], "history.history")
    if not _close(logs["loss"][0], want["loss"]):
        fail("history 的 loss 不对：用 compute_loss 的结果更新名为 loss 的跟踪器")
    if not _close(logs["acc"][0], want["acc"]):
        fail("history 的 acc 不对：其余指标用 (y, y_pred, sample_weight) 更新")
    passed()
