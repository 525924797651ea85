import numpy as np

from core.ratings import human_valence, vader_valence, warriner


def test_human_valence_prefers_vader_and_fills_gaps_from_warriner(ev):
    v, w, h = vader_valence(ev.emotions).valence, warriner(ev.emotions).valence, human_valence(ev.emotions).valence
    both = ~np.isnan(v)
    assert np.array_equal(h[both], v[both])
    gap = np.isnan(v) & ~np.isnan(w)
    assert gap.any() and np.allclose(h[gap], w[gap] - 5)
    assert (~np.isnan(h)).sum() > (~np.isnan(v)).sum()
    assert h[ev.index("happy")] > 0 > h[ev.index("afraid")]
