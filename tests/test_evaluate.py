"""evaluate and its Report: the size bins against a hand-computed example, mean class accuracy,
the confusion matrix, the image of each instance, the outputs, and evaluation of a real model in
batches (its classes, top-5)."""

import json
import math

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from synthetic_regions import TinyRegions
from torch.utils.data import Subset

from roiattn.benchmarks.timing import torch_threads
from roiattn.evaluate import (
    COCO_BINS,
    PAPER_BINS,
    Report,
    SizeBins,
    evaluate,
    predict_all,
    schemes_for,
    size_bins,
)
from roiattn.models import build_model

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def test_the_papers_bins_are_the_authors():
    # EvaluateAccuracy.py: Sizes=[1000,2000,4000,...,256000,500000,1000000] and `LbSize < sz`,
    # an area of a million or more falling into the last bin too: so the last bin is >= 500000
    assert PAPER_BINS.edges == (1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 5e5)
    assert PAPER_BINS.labels[0] == "<1k"
    assert PAPER_BINS.labels[1] == "1k-2k"
    assert PAPER_BINS.labels[-2:] == ("256k-500k", ">=500k")
    areas = [0, 999, 1000, 1999.5, 2000, 255999, 256000, 499999, 500000, 512000, 3e6]
    assert PAPER_BINS.assign(areas).tolist() == [0, 0, 1, 1, 2, 8, 9, 9, 10, 10, 10]
    # COCO: small < 32², medium < 96², large from 96²
    assert COCO_BINS.assign([1023, 1024, 9215, 9216]).tolist() == [0, 1, 1, 2]


# A hand-made example: 3 classes, 10 instances.
#   i  label  pred  area     paper bin   coco
#   0  0      0     500      <1k         small
#   1  0      1     900      <1k         small
#   2  1      1     950      <1k         small
#   3  2      2     1500     1k-2k       medium
#   4  2      0     1500     1k-2k       medium
#   5  2      2     1999     1k-2k       medium
#   6  0      0     20000    16k-32k     large
#   7  1      1     20000    16k-32k     large
#   8  1      2     600000   >=500k      large
#   9  0      0     600000   >=500k      large
LABELS = [0, 0, 1, 2, 2, 2, 0, 1, 1, 0]
PREDICTIONS = [0, 1, 1, 2, 0, 2, 0, 1, 2, 0]
AREAS = [500, 900, 950, 1500, 1500, 1999, 20000, 20000, 600000, 600000]
CLASSES = ["cat", "dog", "cow"]


def example():
    return Report(LABELS, PREDICTIONS, AREAS, CLASSES, method="hand")


def test_overall_and_per_class_by_hand():
    report = example()
    assert report.count == 10
    assert report.accuracy == pytest.approx(7 / 10)
    # cat 3/4, dog 2/3, cow 2/3
    assert report.per_class_accuracy == pytest.approx({"cat": 3 / 4, "dog": 2 / 3, "cow": 2 / 3})
    assert report.mean_class_accuracy == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert report.class_counts == {"cat": 4, "dog": 3, "cow": 3}
    assert report.confusion.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]


def test_size_bins_by_hand():
    rows = {row.label: row for row in example().by_size("paper")}
    assert [row.label for row in example().by_size()] == list(PAPER_BINS.labels)
    assert {label: row.count for label, row in rows.items() if row.count} == {
        "<1k": 3,
        "1k-2k": 3,
        "16k-32k": 2,
        ">=500k": 2,
    }
    assert rows["<1k"].accuracy == pytest.approx(2 / 3)
    # <1k: cat 1/2, dog 1/1 -> mean class 3/4 over the two classes present
    assert rows["<1k"].mean_class_accuracy == pytest.approx(3 / 4)
    assert rows["<1k"].classes_present == 2
    assert rows["1k-2k"].accuracy == pytest.approx(2 / 3)
    assert rows["1k-2k"].mean_class_accuracy == pytest.approx(2 / 3)  # cow only
    assert rows["16k-32k"].accuracy == 1.0
    assert rows[">=500k"].accuracy == 0.5
    assert rows[">=500k"].mean_class_accuracy == pytest.approx(0.5)  # dog 0/1, cat 1/1
    assert (rows[">=500k"].low, rows[">=500k"].high) == (500000, None)
    assert (rows["1k-2k"].low, rows["1k-2k"].high) == (1000, 2000)
    empty = rows["2k-4k"]
    assert empty.count == 0 and math.isnan(empty.accuracy) and math.isnan(empty.mean_class_accuracy)
    coco = {row.label: (row.count, row.accuracy) for row in example().by_size("coco")}
    assert coco == {"small": (3, pytest.approx(2 / 3)), "medium": (3, pytest.approx(2 / 3)),
                    "large": (4, 0.75)}  # fmt: skip
    small, large = example().in_bin(0, "coco"), example().in_bin(-1, "coco")
    assert (small.sum(), large.sum()) == (3, 4) and not (small & large).any()
    assert example().correct[large].mean() == 0.75  # the same instances by_size counted


def test_a_datasets_own_bins_and_custom_edges():
    own = SizeBins.from_edges("dataset", [100, 1000])
    assert own.labels == ("<100", "100-1k", ">=1k")
    assert size_bins([100, 1000]) == SizeBins.from_edges("custom", [100, 1000])
    assert size_bins(own) is own and size_bins(None) is PAPER_BINS
    named = SizeBins.from_edges("specks", [50], labels=["speck", "body"])
    assert named.assign([49.9, 50]).tolist() == [0, 1] and named.bounds(1) == (50, None)
    report = Report(LABELS, PREDICTIONS, AREAS, CLASSES, [own, COCO_BINS])
    assert report.primary == "dataset"
    assert [row.count for row in report.by_size()] == [0, 3, 7]
    with pytest.raises(ValueError, match="strictly ascending"):
        size_bins([10, 5])
    with pytest.raises(ValueError, match="positive finite"):
        size_bins([0, 5])
    with pytest.raises(ValueError, match="unknown size bins 'tiny'"):
        size_bins("tiny")
    with pytest.raises(ValueError, match="sequence of upper edges"):
        size_bins(["a"])
    with pytest.raises(ValueError, match="2 edges make 3 bins"):
        SizeBins.from_edges("x", [1, 2], labels=["a", "b"])


def test_each_instance_keeps_its_image():
    assert example().image_ids.tolist() == list(range(10))  # each its own image by default
    images = [5, 5, 5, 9, 9, 2, 2, 2, 2, 7]
    report = Report(LABELS, PREDICTIONS, AREAS, CLASSES, image_ids=images)
    assert report.image_ids.tolist() == images
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.image_ids.tolist() == images
    with pytest.raises(ValueError, match=r"image_ids \(9\) must have one entry per instance"):
        Report(LABELS, PREDICTIONS, AREAS, CLASSES, image_ids=images[:9])


def test_outputs_round_trip_and_render():
    report = example()
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))  # strict JSON: no NaN
    again = Report.from_dict(data)
    assert again.to_dict() == report.to_dict()
    assert data["items"]["image_ids"] == list(range(10)) and data["top5_accuracy"] is None
    assert data["size_bins"]["paper"]["rows"][2]["accuracy"] is None  # the empty 2k-4k bin
    assert data["per_class"]["cat"] == {"count": 4, "accuracy": 0.75}
    text = report.to_markdown(per_class=True)
    assert "top-1 70.0%" in text
    assert "| <1k | 3 | 66.7% | 75.0% |" in text
    assert "| 2k-4k | 0 | – | – |" in text
    assert "| small | 3 | 66.7% | 75.0% |" in text
    assert "| cow | 3 | 66.7% |" in text
    figure = report.plot()
    assert len(figure.axes) >= 2
    plt.close(figure)
    with pytest.raises(ValueError, match="not a roiattn report"):
        Report.from_dict({**data, "kind": "something else"})


def test_bad_reports_are_refused():
    with pytest.raises(ValueError, match="no instances"):
        Report([], [], [], CLASSES)
    with pytest.raises(ValueError, match="one entry per instance"):
        Report([0, 1], [0], [1, 2], CLASSES)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        Report([0, 3], [0, 1], [1, 2], CLASSES)
    with pytest.raises(ValueError, match="no size binning 'nope'"):
        example().by_size("nope")
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 3\)"):
        Report([0, 1], [0, -1], [1, 2], CLASSES)
    with pytest.raises(ValueError, match="at least one size binning"):
        Report([0, 1], [0, 1], [1, 2], CLASSES, [])


def test_evaluate_a_model_in_batches_matches_one_at_a_time():
    data = TinyRegions(13, size_bins=[3000, 30000], per_image=3)
    torch.manual_seed(0)
    model = build_model("attn-add@conv1", "resnet18", num_classes=3)
    with torch.no_grad():
        model.branches["conv1"].conv.weight.normal_(0, 0.5)  # the mask matters now
    model.train()
    report = evaluate(model, data, batch_size=5, progress=False)
    assert model.training  # its mode is given back
    model.eval()
    with torch.no_grad():
        single = [
            int(model(data[i]["image"][None], data[i]["mask"][None]).argmax()) for i in range(13)
        ]
    assert report.predictions.tolist() == single
    assert report.labels.tolist() == data.labels.tolist()
    assert report.areas.tolist() == data.areas.tolist()
    assert report.image_ids.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    assert list(report.schemes) == ["custom", "coco"]  # the dataset's own bins first
    assert report.classes == data.classes
    assert report.top5_accuracy is None  # 3 classes: top-5 says nothing
    assert report.method == "attn-add@conv1"
    assert report.data["count"] == 13 and "TinyRegions" in report.data["description"]
    paper = evaluate(model, data, batch_size=64, bins="paper", progress=False)
    assert list(paper.schemes) == ["paper", "coco"]
    assert paper.predictions.tolist() == single


def test_which_binnings_a_report_gets():
    own = TinyRegions(4, size_bins=[3000])
    assert [b.name for b in schemes_for(own, None)] == ["custom", "coco"]
    assert schemes_for(TinyRegions(4), None) == [PAPER_BINS, COCO_BINS]
    assert schemes_for(own, "paper") == [PAPER_BINS, COCO_BINS]
    assert schemes_for(own, "coco") == [COCO_BINS]  # not twice
    assert schemes_for(own, [10, 20])[0].edges == (10, 20)


def test_evaluate_through_a_subset_and_its_errors():
    full = TinyRegions(10, per_image=2)
    data = full.subset([1, 3, 5])
    model = build_model("image", "resnet18", num_classes=3)
    report = evaluate(model, data, batch_size=2, progress=False)
    assert report.count == 3 and report.classes == ["shade0", "shade1", "shade2"]
    assert report.labels.tolist() == full.labels[[1, 3, 5]].tolist()
    assert report.image_ids.tolist() == [0, 1, 2]
    assert "[3 of 10 regions]" in report.data["description"]
    with pytest.raises(ValueError, match=r"got Subset \(for a subset, use dataset\.subset"):
        evaluate(model, Subset(full, [1, 3, 5]), progress=False)
    with pytest.raises(ValueError, match="model has 4 outputs but the data has 3 classes"):
        evaluate(build_model("image", "resnet18", num_classes=4), data, progress=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        predict_all(model, data, batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            evaluate(model, data, device="cuda", progress=False)


def test_a_model_evaluated_first_can_still_be_trained():
    from roiattn.train import TrainSettings, fit

    data = TinyRegions(8)
    model = build_model("attn-add@conv1", "resnet18", num_classes=3)
    # channels_last converts the weights while evaluating: they must stay ordinary tensors
    evaluate(model, data, batch_size=4, channels_last=True, progress=False)
    assert not any(p.is_inference() for p in model.parameters())
    fit(model, data, TrainSettings(epochs=1, batch_size=4), progress=False)


def test_size_bins_serialise():
    bins = SizeBins.from_edges("x", [10, 20])
    assert SizeBins.from_dict(bins.to_dict()) == bins


def test_evaluate_uses_the_models_classes_and_checks_them_against_the_datas():
    data = TinyRegions(6)
    model = build_model("image", "resnet18", num_classes=3)
    model.classes = list(data.classes)  # as a model loaded from a checkpoint carries them
    assert evaluate(model, data, progress=False).classes == data.classes
    model.classes = ["cat", "dog", "cow"]
    with pytest.raises(ValueError, match=r"trained on the classes \['cat', 'dog', 'cow'\]"):
        evaluate(model, data, progress=False)


def test_top5_is_recorded_only_with_more_than_five_classes():
    data = TinyRegions(12, num_classes=7, seed=2)
    torch.manual_seed(0)
    model = build_model("attn-add@conv1", "resnet18", num_classes=7)
    report = evaluate(model, data, batch_size=6, progress=False)
    assert report.top5_correct is not None and len(report.top5_correct) == 12
    assert report.top5_correct[report.labels == report.predictions].all()  # top-1 is in top-5
    out = predict_all(model, data, batch_size=6, progress=False)
    assert report.top5_correct.tolist() == out["top5_correct"].tolist()
    assert report.top5_accuracy == pytest.approx(out["top5_correct"].mean())
    assert "top-5 " in report.to_markdown()
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.top5_correct.tolist() == report.top5_correct.tolist()
