"""Every exercise's check rejects typical wrong answers, and passes the book's own solution.

Each chapter is executed (an in-memory copy; the notebook is never written) with a cell inserted
after each of its check cells. That cell rebinds the exercise's answer names to the typical
mistakes of :data:`MISTAKES` one at a time (a value off by one, a gap the wrong way round, an
empty answer, the number from another cell, the right shape with the wrong content), runs the
check cell's source again, records whether it raised ``WrongAnswer``, and restores the names.
The chapter itself, the original checks included, must run without an error.

A mistake is rejected either because the check compares it with what the chapter's objects say
(``"rejected"``) or because the check cannot read an answer of another kind (``"rejected
(unreadable)"``); every exercise must have at least one mistake of the first kind.

The mistakes are chosen for the data the suite runs the book on, COCO's coco-mini
(``$ROIATTN_COCO_ROOT``): on another source one may happen to be the right answer (on the
synthetic fallback's balanced classes the class with the most errors is also the one with the
lowest recall, chapter 4's exercise 3), and the test would say so by name.

It runs in the book build's process after ``tests/test_book.py`` and ``tests/test_findings.py``
(``BOOK`` in ``conftest.py``), so chapters 5 to 7 load the runs the build saved under
``$ROIATTN_DATA/results``; no mistake trains anything. About three minutes on two CPU cores.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARK = "EXERCISE-MISTAKES "

# (chapter, exercise) -> typical mistakes: code that rebinds the answer names, or (code, undo)
# when the mistake changes an object the chapter keeps using (a widget)
MISTAKES: dict[tuple[str, int], list] = {
    # -- chapter 1
    ("01_masks", 1): [
        'square_lost = {"nearest": 1, "bilinear": 1}',
        "square_lost = {mode: n + 1 for mode, n in square_lost.items()}",
        'square_lost = {"nearest": square_lost["bilinear"], "bilinear": square_lost["nearest"]}',
        "square_lost = {mode: 256 - n for mode, n in square_lost.items()}  # kept, not lost",
    ],
    ("01_masks", 2): [
        'area_kept = {p: resize_mask(large_mask, s, "area").sum().item()'
        " for p, s in sizes.items()}",
        'area_kept = {p: resize_mask(large_mask, s, "area").sum().item() * strides[p]'
        " for p, s in sizes.items()}",
        'area_kept = {p: resize_mask(small_mask, s, "area").sum().item() * strides[p] ** 2'
        " for p, s in sizes.items()}",
        "area_kept = {}",
    ],
    ("01_masks", 3): [
        "by_pool = {p: torch.nn.functional.avg_pool2d(small_mask[None], strides[p])"
        " for p in sizes}",
        "by_pool = {p: torch.nn.functional.max_pool2d(large_mask[None], strides[p])"
        " for p in sizes}",
        'by_pool = {p: v for p, v in by_pool.items() if p != "layer4"}',
    ],
    ("01_masks", 4): [
        'smooth = {p: resize_mask(small_mask, s, "bilinear").max().item()'
        " for p, s in sizes.items()}",
        'smooth = {p: resize_mask(small_mask, s, "area").max().item() for p, s in sizes.items()}',
        "smooth = {p: 1.0 for p in sizes}",
    ],
    # -- chapter 2
    ("02_attention_branch", 1): [
        "same_as_mine = False",
        "same_as_backbone = False",
        "my_branch = nn.Conv2d(1, backbone.conv1.out_channels, kernel_size=3, padding=1)\n"
        "nn.init.zeros_(my_branch.weight)\nnn.init.zeros_(my_branch.bias)  # b = 0, not 1",
    ],
    ("02_attention_branch", 2): [
        'bias_effect = {"train": bias_effect["train"], "eval": bias_effect["train"]}',
        'bias_effect = {"train": bias_effect["eval"], "eval": bias_effect["train"]}',
        "bias_effect = {}",
    ],
    ("02_attention_branch", 3): [
        "per_point = {p: (n - n // 10, c) for p, (n, c) in per_point.items()}  # weights only",
        "per_point = {p: (c, n) for p, (n, c) in per_point.items()}",
        "per_point = {p: (sum(q.numel() for q in b.parameters()), b.conv.out_channels) for p, b in"
        " ROIAttentionNet(profile.arch, num_classes=80, merge_at=MERGE_POINTS).branches.items()}",
    ],
    ("02_attention_branch", 4): [
        'odd_map = attn.attention_maps(images, masks)["conv1"]\nexact = True',
        "exact = True",
        "odd_map = attn.attention_maps(F.pad(images, (1, 0, 1, 0)), F.pad(masks, (1, 0, 1, 0)))"
        '["conv1"]',
        "odd_map = channel.mask_conv(F.pad(masks, (0, 1, 0, 1)))",
    ],
    # -- chapter 3
    ("03_noop_init", 1): [
        "zero_block = torchvision.models.resnet18().eval().layer1[1]  # without zero_init_residual",
        "zero_block = torchvision.models.resnet18(zero_init_residual=True).eval().layer2[0]",
        "block_is_relu = False",
    ],
    ("03_noop_init", 2): [
        'kept = build_model("attn-mul@conv1", arch=profile.arch, num_classes=80).to(device)\n'
        "kept.backbone.load_state_dict(trained)\n"
        "with torch.no_grad():\n"
        "    first_logits = second_logits = kept.eval()(train_images[:1], train_masks[:1])",
        "second_logits = first_logits + 1",
        "no_gradient = False",
    ],
    ("03_noop_init", 3): [
        'other_losses = losses["attn-add@conv1"]',
        'norms = history["attn-add@conv1"]  # the no-op start',
        "norms = norms[1:]",
        "other_losses = other_losses[:-1]",
    ],
    ("03_noop_init", 4): [
        "unchanged = {torch.float32: (True, True)}",
        "unchanged = {**unchanged, torch.bfloat16: (True, False)}",
    ],
    # -- chapter 4
    ("04_training_coco", 1): [
        "shuffled_report = evaluate(model, test_data, progress=False)  # the balanced model",
        "shuffled_report = report",
        "shuffled_history = history",
    ],
    ("04_training_coco", 2): [
        "paper_history = history",
        "paper_report = report",
        'paper = settings.replace(optimizer="adam", lr=1e-5)',
        "paper_history = __import__('copy').deepcopy(paper_history)\n"
        'paper_history.settings["schedule"] = "cosine"',
    ],
    ("04_training_coco", 3): [
        "worst = int(np.argmax(report.confusion.sum(1) - np.diag(report.confusion)))",
        "worst = int(np.argmax(np.diag(report.confusion) / report.confusion.sum(1)))",
        "worst = (worst + 1) % k",
    ],
    ("04_training_coco", 4): [
        'refusal = (f"cannot resume exactly with other settings (lr: {settings.lr!r} then, '
        "{settings.lr / 2!r} now): use the same settings, or another checkpoint_dir (or "
        'resume=False) to start afresh")',
        'refusal = "resume=True needs the checkpoint_dir of the run to go on with"',
    ],
    # -- chapter 5
    ("05_context_shapes", 1): [
        "best_guess = int(np.bincount(test.labels[test.small]).argmax())  # from the test set\n"
        "guess_top1 = np.mean(test.labels[test.small] == best_guess)",
        "best_guess = (best_guess + 1) % len(train.classes)\n"
        "guess_top1 = np.mean(test.labels[test.small] == best_guess)",
        "guess_top1 = np.mean(test.labels == best_guess)",
        "guess_top1 = 100 * guess_top1",
    ],
    ("05_context_shapes", 2): [
        "fair = comparison",
        "fair = __import__('copy').deepcopy(fair)\n"
        'fair.provenance["experiment"]["training"]["epochs"] += 1',
        "fair = __import__('copy').deepcopy(fair)\n"
        'fair.provenance["experiment"]["model_options"] = {}',
    ],
    ("05_context_shapes", 3): [
        "again = comparison",
        'again = experiment.replace(seeds=(SEED + 1,)).run(["hard@input"], progress=False)',
        "again = __import__('copy').deepcopy(again)\n"
        'again.provenance["experiment"]["training"]["lr"] /= 2',
    ],
    ("05_context_shapes", 4): [
        "wide_vanish, wide_share = vanish3, share3",
        "wide_vanish, wide_share = wide_share, wide_vanish",
        'wide_vanish = (resize_mask(wide_masks, 128 // 2, "bilinear").flatten(1).amax(1) == 0)'
        ".float().mean().item()",
    ],
    ("05_context_shapes", 5): [
        "wide_filter = comparison",
        "wide_filter = fair",
        "wide_filter = __import__('copy').deepcopy(wide_filter)\n"
        'wide_filter.provenance["experiment"]["model_options"]["kernel_size"] = 5',
    ],
    ("05_context_shapes", 6): [
        "larger_run = small_run",
        "larger_run = comparison",
        "larger_run = __import__('copy').deepcopy(larger_run)\n"
        'larger_run.provenance["experiment"]["training"]["epochs"] += 1',
    ],
    # -- chapter 6
    ("06_soft_vs_hard", 1): [
        "spreads = {m: (0, 1) for m in spreads}",
        'spreads = {m: comparison.spread(m, "overall", "accuracy") for m in spreads}',
        "spreads = {m: (high, low) for m, (low, high) in spreads.items()}",
        'spreads = {m: comparison.spread(m, "mean class") for m in comparison.methods}',
    ],
    ("06_soft_vs_hard", 2): [
        "more = comparison",
        "more = __import__('copy').deepcopy(more)\n"
        'more.provenance["experiment"]["training"]["lr"] *= 2',
    ],
    ("06_soft_vs_hard", 3): [
        "top1 = checks  # mean-class accuracy",
        'top1 = check_findings(comparison, metric="accuracy", scheme="paper", margin=MARGIN)',
        "top1 = top1[:-1]",
    ],
    ("06_soft_vs_hard", 4): [
        "only_a, only_b = only_b, only_a",
        "p_value = p_value / 2  # one-sided",
        "only_a = int((right_a & right_b).sum())  # both right",
    ],
    # -- chapter 7
    ("07_why_attention_loses", 1): [
        "step = paired_gap(by_scale[100].reports(ATTENTION, experiment.seeds[:1]),"
        " far.reports(ATTENTION))",
        "step = paired_gap(far.reports(ATTENTION),"
        " by_scale[1].reports(ATTENTION, experiment.seeds[:1]))",
        "far = by_scale[100]",
        "step = gap",
    ],
    ("07_why_attention_loses", 2): [
        'channel_gain = paired_gap(channel_slow.reports("mask-channel"),'
        ' channel_fast.reports("mask-channel"))',
        "channel_fast = channel_slow",
        'channel_gain = paired_gap(channel_fast.reports("mask-channel"),'
        ' channel_slow.reports("mask-channel"), metric="accuracy")',
    ],
    ("07_why_attention_loses", 3): [
        "top1_gaps = {n: paired_gap(curve[n].reports(ATTENTION), curve[n].reports(HARD))"
        " for n in SIZES}  # mean class",
        'top1_gaps = {n: paired_gap(curve[n].reports(HARD), curve[n].reports(ATTENTION), metric="'
        'accuracy") for n in SIZES}',
        "top1_gaps = {n: gap for n in SIZES}",
    ],
    # -- chapter 8
    ("08_explore", 1): [
        "answers = {1: answers[2], 2: answers[4], 4: answers[4]}",
        'answers = {s: {m: a["crop"] for m in a} for s, a in answers.items()}',
        "answers = {s: {m: (c, 100 * p) for m, (c, p) in a.items()} for s, a in answers.items()}",
        "answers = {**answers, 1: {m: top[0] for m, top in"
        ' widgets.top_predictions(chosen, item["image"], mask, classes, top_k=1).items()}}',
    ],
    ("08_explore", 2): [
        "attention_only = np.array([], dtype=int)",
        'attention_only = np.flatnonzero(np.logical_or.reduce([right[m] for m in right if m.startswith("attn-")]) & ~hard)',  # noqa: E501
        "attention_only = attention_only + 1",
        "attention_only = attention_only[:3]",
    ],
    ("08_explore", 3): [
        "bin_gaps = {label: -gap for label, gap in bin_gaps.items()}",
        "bin_gaps = {label: widgets.bin_accuracies(comparison, label, 'mean_class')"
        "['attn-add@conv1'] - widgets.bin_accuracies(comparison, label, 'mean_class')"
        "['hard@input'] for label in bin_gaps}",
        (
            "_slider_was = bin_explorer.slider.value\n"
            "bin_explorer.slider.value = min(bin_gaps, key=bin_gaps.get)",
            "bin_explorer.slider.value = _slider_was",
        ),
    ],
    # -- chapter 9
    ("09_vision_transformer", 1): [
        "mean_patches, one_patch = one_patch, mean_patches",
        'mean_patches = float((resize_mask(masks, grid, "bilinear") > 0).flatten(1).sum(1)'
        ".float().mean())",
        "mean_patches = mean_patches + 1  # the class token counted as well",
        "one_patch = 1 - one_patch",
    ],
    ("09_vision_transformer", 2): [
        "drop_rule = attention_rule(inside[None], everyone=False)[0]  # mask-attn's rule",
        "drop_rule = drop_rule & ~torch.eye(1 + T, dtype=torch.bool)  # no token reads itself",
        "drop_rule = drop_rule.T  # rows and columns swapped",
        "drop_rule = drop_rule.clone()\ndrop_rule[:, 0] = False  # the class token unreadable",
    ],
    ("09_vision_transformer", 3): [
        "fair = comparison",
        "fair = __import__('copy').deepcopy(fair)\n"
        'fair.provenance["experiment"]["model_options"] = {}',
        "fair = __import__('copy').deepcopy(fair)\n"
        'fair.provenance["experiment"]["training"]["epochs"] += 1',
    ],
}


def exercises(notebook) -> dict[int, int]:
    """Exercise number -> index of its check cell."""
    found = {}
    for index, cell in enumerate(notebook.cells):
        if "exercise-check" in cell.metadata.get("tags", []):
            number = re.match(r"roiattn\.exercises\.check\(\s*(\d+),", cell.source)
            assert number, f"cell {index}: a check cell that does not call check(N, ...)"
            found[int(number.group(1))] = index
    return found


def bound(code: str) -> list[str]:
    """The names a mistake binds at the top level of the kernel's namespace."""
    names, todo = set(), list(ast.parse(code).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return sorted(names)


def mistake_cell(stem: str, number: int, check: str) -> nbformat.NotebookNode:
    """A cell that tries every mistake of the exercise on the check and restores the names."""
    tries = []
    for mistake in MISTAKES[stem, number]:
        code, undo = mistake if isinstance(mistake, tuple) else (mistake, "")
        tries.append((code, undo, bound(code)))
    source = f"""_exercise_mistakes = globals().setdefault("_exercise_mistakes", [])
for _index, (_code, _undo, _names) in enumerate({tries!r}):
    _saved = {{_name: globals()[_name] for _name in _names if _name in globals()}}
    try:
        exec(_code, globals())
        try:
            exec({check!r}, globals())
            _outcome = "accepted"
        except roiattn.exercises.WrongAnswer as _error:
            _unreadable = "cannot read the answer" in str(_error)
            _outcome = "rejected (unreadable)" if _unreadable else "rejected"
    except Exception as _error:
        _outcome = f"error: {{type(_error).__name__}}: {{_error}}"
    finally:
        if _undo:
            exec(_undo, globals())
        for _name in _names:
            globals().pop(_name, None)
        globals().update(_saved)
    _exercise_mistakes.append(({stem!r}, {number}, _index, _outcome))
"""
    return nbformat.v4.new_code_cell(source)


def test_every_exercise_of_the_book_has_mistakes_to_try():
    found = set()
    for path in NOTEBOOKS:
        numbers = exercises(nbformat.read(path, as_version=4))
        found |= {(path.stem, n) for n in numbers}
    assert found == set(MISTAKES)
    assert all(MISTAKES[key] for key in MISTAKES)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_check_passes_the_solution_and_rejects_the_mistakes(path):
    notebook = nbformat.read(path, as_version=4)
    checks = exercises(notebook)
    for number, index in sorted(checks.items(), reverse=True):
        cell = mistake_cell(path.stem, number, notebook.cells[index].source)
        notebook.cells.insert(index + 1, cell)
    report = f"import json\nprint({MARK!r} + json.dumps(_exercise_mistakes))"
    notebook.cells.append(nbformat.v4.new_code_cell(report))
    NotebookClient(notebook, timeout=1200, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    checks = exercises(notebook)  # where they are now, each followed by its mistakes

    passed = {
        number
        for number, index in checks.items()
        for output in notebook.cells[index].outputs
        if "passes the check" in output.get("text", "")
    }
    assert passed == set(checks), "the book's own solution passes every check"
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    outcomes = json.loads(printed.split(MARK, 1)[1])
    for _, number, index, outcome in outcomes:
        print(f"{path.stem} exercise {number}, mistake {index + 1}: {outcome}")
    wrong = [
        (number, MISTAKES[path.stem, number][index], outcome)
        for _, number, index, outcome in outcomes
        if not outcome.startswith("rejected")
    ]
    assert not wrong, "every mistake is rejected: " + json.dumps(wrong, indent=1)
    tried = {(number, index) for _, number, index, _ in outcomes}
    assert tried == {(n, i) for n in checks for i in range(len(MISTAKES[path.stem, n]))}
    compared = {number for _, number, _, outcome in outcomes if outcome == "rejected"}
    assert compared == set(checks), "each exercise rejects a mistake by comparing, not by its type"
