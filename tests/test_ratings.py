import numpy as np

from core.ratings import human_valence, vader_valence, warriner, word_valence


def test_human_valence_prefers_vader_and_fills_gaps_from_warriner(ev):
    v, w, h = vader_valence(ev.emotions).valence, warriner(ev.emotions).valence, human_valence(ev.emotions).valence
    both = ~np.isnan(v)
    assert np.array_equal(h[both], v[both])
    gap = np.isnan(v) & ~np.isnan(w)
    assert gap.any() and np.allclose(h[gap], w[gap] - 5)
    assert (~np.isnan(h)).sum() > (~np.isnan(v)).sum()
    assert h[ev.index("happy")] > 0 > h[ev.index("afraid")]


def test_word_valence_reads_a_sad_reply_below_a_cheerful_one_and_is_blind_to_negation():
    sad = "I miss her every day. The house is empty and I cry at night."
    plain = "The bus leaves the station at nine and stops at the market."
    cheerful = "What a lovely morning! We laughed and had cake in the sunny garden."
    assert word_valence(sad) < word_valence(plain) < word_valence(cheerful)  # plain words rate near 5.5, not 5
    assert word_valence("I’m happy") == word_valence("I'm HAPPY") == word_valence("happy")  # curly apostrophes, case
    assert word_valence("not happy") == word_valence("happy")  # the blind spot the app's help text names
    assert np.isnan(word_valence("123 ?!")) and np.isnan(word_valence(""))
