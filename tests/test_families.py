"""Families of the shipped models: named by a member, never across human valence."""

import numpy as np
import pytest

from core.families import build_families, family_max, valence_sign
from core.ratings import human_valence
from core.vectors import EmotionVectors, vectors_dir


@pytest.fixture(scope="module", params=["smollm2-135m-instruct", "gemma3-270m"])
def model_ev(request, ev):
    return ev if request.param == ev.model_name else EmotionVectors.load(vectors_dir(request.param))


def test_every_family_is_named_by_a_member_and_never_joins_opposite_valence(model_ev):
    ev = model_ev
    fam = ev.families
    signs = valence_sign(human_valence(ev.emotions).valence)
    assert sorted(set(fam.of.tolist())) == list(range(len(fam.names))) and 12 <= len(fam.names) <= 30
    for f, name in enumerate(fam.names):
        members = np.flatnonzero(fam.of == f)
        assert name in fam.members(f, ev.emotions)
        rated = set(signs[members].tolist()) - {0}
        assert rated == {fam.sign[f]}, (name, fam.members(f, ev.emotions))  # one human valence per family
        assert signs[ev.index(name)] == fam.sign[f]  # the name carries it


def test_near_synonyms_share_a_family(ev):
    fam = ev.families
    same = lambda a, b: fam.of[ev.index(a)] == fam.of[ev.index(b)]
    assert same("afraid", "scared") and same("afraid", "terrified") and same("angry", "furious")
    assert not same("happy", "sad") and not same("calm", "furious")


def test_family_max_reads_the_strongest_member(ev):
    fam = ev.families
    z = np.random.default_rng(0).normal(size=(5, len(ev.emotions))).astype(np.float32)
    z[2] = np.nan  # a token no reading reads
    val, arg = family_max(z, fam.of)
    f = fam.of[ev.index("afraid")]
    members = np.flatnonzero(fam.of == f)
    assert np.allclose(val[[0, 1, 3, 4], f], z[[0, 1, 3, 4]][:, members].max(1))
    assert np.isnan(val[2]).all() and (fam.of[arg[0]] == np.arange(len(fam.names))).all()


def test_families_are_deterministic(ev):
    again = build_families(ev.at(), ev.emotions, human_valence(ev.emotions).valence)
    assert again.names == ev.families.names and (again.of == ev.families.of).all()
