from collections import Counter

import pytest

from core import corpus
from core.paths import ROOT


@pytest.fixture(scope="module")
def report():
    return corpus.check_corpus()


def test_emotions_match_the_paper_list():
    shared = ROOT.parent / "shared" / "data" / "emotions.txt"
    assert len(corpus.emotions()) == 171 and len(set(corpus.emotions())) == 171
    if shared.exists():
        assert list(corpus.emotions()) == [l.strip() for l in shared.read_text().splitlines() if l.strip()]


def test_topics():
    assert len(corpus.topics()) == 100 and len(set(corpus.topics())) == 100


def test_every_emotion_has_enough_stories(report):
    assert set(report.per_emotion) == set(corpus.emotions())
    assert min(report.per_emotion.values()) >= corpus.MIN_STORIES


def test_stories_rarely_name_their_emotion(report):
    assert report.own_word_rate <= 0.03, report.own_word[:10]


def test_story_lengths(report):
    assert report.short_or_long == []


def test_no_near_duplicate_stories(report):
    assert report.duplicates == []


def test_topics_differ_within_an_emotion_and_persons_mix():
    by = {}
    for s in corpus.load_stories():
        by.setdefault(s.emotion, []).append(s)
    for emotion, stories in by.items():
        topics = [s.topic for s in stories]
        assert len(set(topics)) == len(topics), emotion
        assert {s.person for s in stories} == {"first", "third"}, emotion


def test_no_problems_at_all(report):
    assert report.problems == []


def test_neutral_dialogues():
    dialogues = corpus.load_neutral()
    assert len(dialogues) >= corpus.MIN_NEUTRAL
    assert sum(d[0]["role"] == "system" for d in dialogues) >= 10
    assert all(any(m["role"] == "assistant" for m in d) for d in dialogues)


def test_validation_set_parses_and_names_known_emotions():
    vs = corpus.load_validation()
    assert len(vs.implicit) >= 80 and len({x["emotion"] for x in vs.implicit}) >= 40
    assert all(Counter(x["emotion"] for x in vs.implicit)[e] >= 2 for e in {x["emotion"] for x in vs.implicit})
    assert len(vs.sweeps) >= 5 and any("tylenol" in s["template"].lower() for s in vs.sweeps)
    assert len(vs.negation) >= 20 and len(vs.two_person) >= 10
    stories = {s.text for s in corpus.load_stories()}
    assert not any(x["text"] in stories for x in vs.implicit)


def test_examples_cover_the_case_studies():
    examples = corpus.load_examples()
    assert len(examples) >= 8
    slugs = " ".join(e.slug for e in examples)
    for needle in (
        "tylenol_safe",
        "tylenol_overdose",
        "attachment",
        "grieving",
        "gambling",
        "token_budget",
        "impossible_tests",
        "replacement",
        "praise",
    ):
        assert needle in slugs
    assert all(e.title and e.caption and len(e.messages) >= 2 for e in examples)


def test_own_word_check_knows_other_senses():
    assert corpus.names_own_emotion("afraid", "She was Afraid.")
    assert not corpus.names_own_emotion("kind", "It was a kind of blue.")
    assert corpus.names_own_emotion("kind", "He was kind to her.")
    assert not corpus.names_own_emotion("patient", "The patient waited.")
    assert not corpus.names_own_emotion("at ease", "He sat at the easel.")


def test_near_duplicate_detector_finds_a_copy():
    a = "the quick brown fox jumps over the lazy dog near the river bank today"
    b = a.replace("today", "tonight")
    assert corpus.near_duplicates([a, b, "something else entirely written here for the test"]) == [(0, 1, pytest.approx(1.0, abs=0.2))]


def test_bad_story_file_is_named(tmp_path):
    (tmp_path / "emotions.txt").write_text("afraid\n")
    (tmp_path / "stories_x.jsonl").write_text('{"emotion": "afraid", "topic": "x"\n')
    with pytest.raises(corpus.CorpusError, match="stories_x.jsonl:1"):
        corpus.load_stories(tmp_path)
