"""The sketch rows' text form and the quantile walk over merged sketches, against numpy."""

import numpy as np
import pytest

from pipeline.windows import sketch


def test_encode_and_decode_round_trip_many_rows_and_skip_missing_ones():
    texts = [sketch.encode([3, -1, sketch.ZERO_BUCKET], [5, 1, 2]), None, sketch.encode([700], [10**12]), ""]
    row, buckets, counts = sketch.decode(texts)
    assert row.tolist() == [0, 0, 0, 2]
    assert buckets.tolist() == [3, -1, sketch.ZERO_BUCKET, 700]
    assert counts.tolist() == [5, 1, 2, 10**12]


def test_decode_refuses_text_that_is_not_pairs():
    with pytest.raises(ValueError, match="pairs"):
        sketch.decode(["1:2,3"])


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_of_merged_groups_are_within_the_relative_accuracy_of_numpy_lower(seed):
    rng = np.random.default_rng(seed)
    qs = (0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
    groups, pairs = 7, []
    exact = []
    for g in range(groups):
        values = np.round(rng.lognormal(rng.uniform(0, 6), rng.uniform(0.1, 2.5), int(rng.integers(1, 3000))), 2)
        values[rng.random(len(values)) < 0.02] = 0.0
        exact.append(values)
        # each group in several parts (minutes), shuffled: merging adds the pairs of one bucket up
        for part in np.array_split(rng.permutation(values), int(rng.integers(1, 5))):
            b, c = np.unique(sketch.bucket_of(part), return_counts=True)
            pairs += [(g, int(x), int(y)) for x, y in zip(b, c, strict=True)]
    rng.shuffle(pairs)
    group, buckets, counts = (np.array(column, dtype="int64") for column in zip(*pairs, strict=True))
    got = sketch.quantiles(group, buckets, counts, groups + 1, qs)  # the last group has no counts
    assert np.isnan(got[groups]).all()
    for g, values in enumerate(exact):
        want = np.percentile(values, np.array(qs) * 100, method="lower")
        error = np.where(want == 0, got[g], np.abs(got[g] - want) / np.where(want == 0, 1, want))
        assert error.max() <= sketch.RELATIVE_ACCURACY + 1e-9, (g, got[g], want)
