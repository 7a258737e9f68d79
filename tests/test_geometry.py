"""Box geometry (convoycount.geometry): the measures the tracker and the COCO NMS use."""
import cv2
import numpy as np
import pytest

from convoycount.geometry import (area, areas, center, diagonal, intersection_areas,
                                  mostly_inside, nms, overlap_of_smaller)


def test_single_box_measures():
    assert area((10, 20, 40, 60)) == 1200
    assert area((5, 5, 5, 9)) == 1.0                 # degenerate: at least 1, it is divided by
    assert diagonal((0, 0, 30, 40)) == 50
    assert center((10, 20, 40, 60)) == (25, 40)
    np.testing.assert_array_equal(areas([(0, 0, 2, 3), (0, 0, 0, 0)]), [6, 1])
    np.testing.assert_array_equal(areas([(0, 0, 0, 0)], at_least=0), [0])


def test_intersections_of_every_pair():
    a = [(0, 0, 10, 10), (20, 0, 30, 10)]
    b = [(5, 5, 15, 15), (10, 0, 20, 10), (-5, -5, 25, 25)]
    np.testing.assert_array_equal(intersection_areas(a, b),
                                  [[25, 0, 100],          # (10, 0, 20, 10) only touches
                                   [0, 0, 50]])
    assert intersection_areas([], b).shape == (0, 3)
    assert intersection_areas(a, np.zeros((0, 4))).shape == (2, 0)


def test_overlap_of_smaller_is_one_for_a_box_inside_another():
    big, small, half_out = (0, 0, 100, 50), (10, 10, 30, 20), (90, 0, 110, 10)
    got = overlap_of_smaller([small, half_out], [big])
    np.testing.assert_allclose(got[:, 0], [1.0, 0.5])
    # symmetric, and unlike IoU (200 / 5000 here) it ignores the size difference
    assert overlap_of_smaller([big], [small])[0, 0] == 1.0
    assert overlap_of_smaller([big], [(200, 0, 210, 10)])[0, 0] == 0.0


def test_mostly_inside_counts_the_inner_box_share_and_includes_the_limit():
    inner = [(0, 0, 10, 10), (6, 0, 16, 10)]              # 100 px² each
    outer = [(0, 0, 12, 12)]                              # holds all of one, 60 % of the other
    np.testing.assert_array_equal(mostly_inside(inner, outer, 0.6)[:, 0], [True, True])
    np.testing.assert_array_equal(mostly_inside(inner, outer, 0.61)[:, 0], [True, False])


def test_nms_drops_overlapping_weaker_boxes_best_first():
    boxes = [(0, 0, 10, 10), (1, 0, 11, 10), (50, 50, 60, 60), (0, 0, 10, 10)]
    scores = [0.6, 0.9, 0.5, 0.6]
    # 1 is best; 0 and 3 overlap it with IoU 9/11; 2 is elsewhere
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2])
    # equal scores keep their input order
    np.testing.assert_array_equal(nms([(0, 0, 1, 1), (5, 5, 6, 6)], [0.7, 0.7], 0.5), [0, 1])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).dtype == np.int64


def test_nms_containment_drops_a_part_box_that_iou_keeps():
    whole, front_half = (0, 0, 100, 40), (50, 2, 100, 38)       # IoU 0.45
    assert len(nms([whole, front_half], [0.8, 0.7], 0.5)) == 2
    np.testing.assert_array_equal(nms([whole, front_half], [0.8, 0.7], 0.5, containment=0.8), [0])


def test_nms_a_box_dropped_by_containment_suppresses_nothing():
    # One greedy pass with both rules: the part box (1) lies inside the best box (0),
    # so it goes, and box 2, which overlaps only the part box strongly, stays. Running
    # IoU NMS first (1 would suppress 2) and the containment rule afterwards loses box 2.
    whole, part, neighbour = (0, 0, 100, 40), (60, 0, 100, 40), (64, 0, 110, 40)
    got = nms([whole, part, neighbour], [0.9, 0.8, 0.7], 0.5, containment=0.8)
    np.testing.assert_array_equal(got, [0, 2])


def test_nms_with_labels_only_suppresses_the_same_label():
    boxes, scores = [(0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10)], [0.9, 0.8, 0.7]
    np.testing.assert_array_equal(nms(boxes, scores, 0.5, labels=np.array([2, 7, 2])), [0, 1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0])


@pytest.mark.parametrize("seed", range(5))
def test_nms_iou_rule_agrees_with_opencv(seed):
    # Without the containment rule, our greedy NMS is OpenCV's (cv2.dnn.NMSBoxes takes
    # x, y, w, h and only scores above its threshold, so all scores here are > 0).
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, (200, 2))
    wh = rng.uniform(10, 80, (200, 2))
    boxes = np.column_stack((xy, xy + wh))
    scores = np.round(rng.uniform(0.3, 1.0, 200), 2)            # with ties
    ours = nms(boxes, scores, 0.45)
    theirs = np.asarray(cv2.dnn.NMSBoxes(np.column_stack((xy, wh)).tolist(), scores.tolist(),
                                         0.0, 0.45)).reshape(-1)
    assert 10 < len(ours) < 200
    np.testing.assert_array_equal(ours, theirs)
