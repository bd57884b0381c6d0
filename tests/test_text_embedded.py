"""Behaviour of the embedded (offline, untrained) text model: what a user typing a description sees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emo_app.blendshapes.schema import ARKIT_NAMES
from emo_app.errors import InvalidInputError
from emo_app.text import TextPrediction, get_text_model
from emo_app.text.mirror import mirror_text


@pytest.fixture(scope="module")
def model():
    return get_text_model("embedded")


def strongest_feeling(emotions: dict[str, float]) -> tuple[str, float]:
    """The strongest emotion other than neutral, and its intensity."""
    name = max((e for e in emotions if e != "neutral"), key=emotions.get)
    return name, emotions[name]


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("A cheerful young woman beaming with joy.", "happiness"),
        ("An old man with a sorrowful face, close to tears.", "sadness"),
        ("He is furious and shouting in rage.", "anger"),
        ("She is astonished by the unexpected news.", "surprise"),
        ("He recoils in disgust at the rotten food.", "disgust"),
        ("A terrified child, frozen with fear.", "fear"),
        ("She regards him with cold contempt and disdain.", "contempt"),
    ],
)
def test_each_emotion_description_makes_its_emotion_the_largest(model, text, emotion):
    prediction = model.predict(text)
    assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()


def test_not_happy_is_not_happy(model):
    happy = model.predict("She is happy.").emotions
    not_happy = model.predict("She is not happy.").emotions
    assert not_happy["happiness"] < 0.2
    assert not_happy.dominant() != "happiness"
    assert happy["happiness"] > 3 * not_happy["happiness"]


def test_slight_smile_smiles_less_than_a_wide_grin(model):
    slight = model.predict("slightly smiling").shapes
    grin = model.predict("grinning widely").shapes
    for side in ("Left", "Right"):
        assert slight["mouthSmile" + side] + 0.2 < grin["mouthSmile" + side]


@pytest.mark.parametrize("degree", ["a little", "a bit"])
def test_smiling_a_little_smiles_less_than_smiling(model, degree):
    plain = model.predict("she is smiling")
    little = model.predict(f"she is smiling {degree}")
    for side in ("Left", "Right"):
        assert little.shapes["mouthSmile" + side] < plain.shapes["mouthSmile" + side] - 0.1
    assert little.emotions["happiness"] < plain.emotions["happiness"]


def test_degree_words_scale_the_emotion_and_the_face(model):
    mild = model.predict("slightly happy")
    strong = model.predict("extremely happy")
    assert mild.emotions["happiness"] < strong.emotions["happiness"]
    assert mild.shapes["mouthSmileLeft"] < strong.shapes["mouthSmileLeft"]


def test_left_eyebrow_raises_the_subjects_left_only(model):
    prediction = model.predict("Her left eyebrow is raised.")
    assert prediction.shapes["browOuterUpLeft"] > 0.5
    assert prediction.shapes["browOuterUpRight"] < 0.2 * prediction.shapes["browOuterUpLeft"]
    sources = [source for source, _ in prediction.explanation["browOuterUpLeft"]]
    assert any(source.startswith("cue:") and "left" in source for source in sources)


@pytest.mark.parametrize(
    "text",
    [
        "Her left eyebrow is raised and the right corner of her mouth is turned down.",
        "He winks with his right eye, smiling.",
        "A furious man, his left eye narrowed.",
        "Her left eyebrow is raised, puzzled.",
        "He glances to the left, smirking.",
        "He shifts his jaw to the left.",
    ],
)
def test_mirrored_text_mirrors_the_shapes(model, text):
    original = model.predict(text).shapes
    mirrored = model.predict(mirror_text(text)).shapes
    np.testing.assert_allclose(mirrored.values, original.mirrored().values, atol=1e-5)
    assert not np.allclose(original.values, original.mirrored().values, atol=1e-3)  # the text is one-sided


@pytest.mark.parametrize(
    ("text", "turned", "still"),
    [
        ("He looks to the left.", ["eyeLookOutLeft", "eyeLookInRight"], ["eyeLookInLeft", "eyeLookOutRight"]),
        ("Her eyes dart to the right.", ["eyeLookInLeft", "eyeLookOutRight"],
         ["eyeLookOutLeft", "eyeLookInRight"]),
        ("She glances nervously down at her shoes.", ["eyeLookDownLeft", "eyeLookDownRight"],
         ["eyeLookUpLeft", "eyeLookUpRight"]),
        ("He looks up at the ceiling, thinking.", ["eyeLookUpLeft", "eyeLookUpRight"],
         ["eyeLookDownLeft", "eyeLookDownRight"]),
        ("He looks away.", ["eyeLookInLeft", "eyeLookOutRight"], ["eyeLookOutLeft", "eyeLookInRight"]),
    ],
)
def test_where_the_text_says_the_eyes_look_they_turn(model, text, turned, still):
    """Gaze words moved nothing ("looks to the left" drew a neutral face looking ahead): an
    animator's most basic direction. Left is the subject's left, as for the brows."""
    shapes = model.predict(text).shapes
    assert all(shapes[name] > 0.5 for name in turned), {n: shapes[n] for n in turned}
    assert all(shapes[name] < 0.1 for name in still), {n: shapes[n] for n in still}


@pytest.mark.parametrize("text", ["She looks happy.", "He does not look up.", "He looked at the menu."])
def test_a_look_without_a_direction_or_negated_turns_no_eye(model, text):
    shapes = model.predict(text).shapes
    looks = [n for n in ARKIT_NAMES if n.startswith("eyeLook")]
    assert max(shapes[n] for n in looks) < 0.2, {n: shapes[n] for n in looks}


@pytest.mark.parametrize(
    ("text", "shape"),
    [("He puffs out his cheeks.", "cheekPuff"), ("She blows a kiss.", "mouthPucker"),
     ("Kissing the air.", "mouthPucker")],
)
def test_puffed_cheeks_and_kisses_show(model, text, shape):
    assert model.predict(text).shapes[shape] > 0.6


def test_puffed_cheeks_keep_the_lips_sealed(model):
    """Air puffs the cheeks only behind closed lips: with an angry reading's parted lips over
    them the puff did not show."""
    shapes = model.predict("He puffs out his cheeks.").shapes
    assert shapes["cheekPuff"] > 0.9 and shapes["mouthPressLeft"] > 0.3 and shapes["mouthClose"] > 0.1


@pytest.mark.parametrize(
    ("text", "moved", "least", "still"),
    [
        ("He shifts his jaw to the left.", "jawLeft", 0.5, "jawRight"),
        ("Mouth pulled to one side.", "mouthLeft", 0.5, "mouthRight"),
        ("A lopsided smile.", "mouthSmileLeft", 0.5, "mouthSmileRight"),
        ("She rolls her eyes.", "eyeLookUpLeft", 0.5, "eyeLookDownLeft"),
        ("Cross-eyed and goofy.", "eyeLookInLeft", 0.5, "eyeLookOutLeft"),
        ("Whistling.", "mouthPucker", 0.5, "mouthSmileLeft"),
        ("Lips rolled in, thinking.", "mouthRollLower", 0.5, "jawOpen"),
        ("Her left eyebrow rises and her jaw drops.", "browOuterUpLeft", 0.5, "browOuterUpRight"),
        ("Her left eyebrow rises and her jaw drops.", "jawOpen", 0.5, "jawLeft"),
    ],
)
def test_directions_an_animator_types_move_the_face(model, text, moved, least, still):
    """Each of these drew a face without the movement asked for: the jaw and mouth had no
    sides, "lopsided" smiled with both corners, "rolls" and "cross-eyed" moved no eye, "rises"
    and "drops" were no brow or jaw words, "lips rolled in" opened the mouth."""
    shapes = model.predict(text).shapes
    assert shapes[moved] > least, (moved, shapes[moved])
    assert shapes[still] < 0.5 * shapes[moved], (still, shapes[still])


def test_a_face_cue_in_a_longer_story_keeps_the_storys_emotion(model):
    """The similarity reading is damped when the text only describes the face (the cues draw it);
    a jaw drop in a whole sentence about a magic trick lost its surprise (0.65 -> 0.39) once
    "drops" became a jaw word."""
    prediction = model.predict("His jaw drops as the magician pulls a dove from his hat.")
    emotions = prediction.emotions.to_dict()
    assert max(emotions, key=emotions.get) == "surprise", emotions
    assert prediction.shapes["jawOpen"] > 0.5 and prediction.shapes["browOuterUpLeft"] > 0.4


@pytest.mark.parametrize("text", ["She blows him a kiss.", "He shifts his jaw to the left.",
                                  "Her eyes dart to the right.", "He opens his mouth.",
                                  "She closes her eyes.", "Her lips are parted.", "He blinks."])
def test_a_direction_for_the_face_draws_no_feeling_of_its_own(model, text):
    """MiniLM read "She blows him a kiss." as anger (0.47), "He shifts his jaw to the left."
    as anger (0.56) and "He opens his mouth." as anger (0.95, then 0.57 as a face cue): a scowl
    over a kiss. A text that only directs the face keeps it calm."""
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[1] < 0.35, emotions


def test_eyes_half_closed_close_them_half_way(model):
    shapes = model.predict("Eyes half closed, drowsy.").shapes
    assert 0.35 < shapes["eyeBlinkLeft"] < 0.7  # "closed" alone shut them (1.0)


def test_one_eyebrow_raised_skeptically_raises_one(model):
    """"one eyebrow" chose the subject's left and "skeptically" its own default, the right: both
    brows went up. Every one-sided cue of the text now takes the side "one" chose."""
    shapes = model.predict("He raises one eyebrow skeptically.").shapes
    assert shapes["browOuterUpLeft"] > 0.6 and shapes["browOuterUpRight"] < 0.2
    assert shapes["browDownRight"] > 0.3  # the skeptic's other brow lowers


def test_a_text_that_moves_the_face_is_not_read_as_a_situation(model):
    """"looks up at the ceiling, thinking" read as a fear situation (0.54), "puffs out his
    cheeks" as disgust (0.60): a face movement is read from the face, not from situations."""
    for text in ("looks up at the ceiling, thinking", "puffs out his cheeks"):
        prediction = model.predict(text)
        assert not any("read as a situation" in note for note in prediction.notes), prediction.notes


def test_explicit_cues_set_the_shapes_they_name(model):
    prediction = model.predict("wide eyes, mouth agape, furrowed brow and lips pressed")
    shapes = prediction.shapes
    assert shapes["eyeWideLeft"] > 0.5 and shapes["eyeWideRight"] > 0.5
    assert shapes["jawOpen"] > 0.4
    assert shapes["browDownLeft"] > 0.5
    assert shapes["mouthPressLeft"] > 0.5
    assert len(prediction.cues) >= 4


@pytest.mark.parametrize(
    ("text", "a", "b"),
    [
        ("happily surprised", "happiness", "surprise"),
        ("bittersweet", "happiness", "sadness"),
        ("sadly angry", "sadness", "anger"),
    ],
)
def test_compound_descriptions_blend_both_emotions(model, text, a, b):
    prediction = model.predict(text)
    assert prediction.emotions[a] > 0.3 and prediction.emotions[b] > 0.3
    assert any("compound" in note for note in prediction.notes)


def test_happily_surprised_face_has_both_smile_and_raised_brows(model):
    shapes = model.predict("happily surprised").shapes
    assert shapes["mouthSmileLeft"] > 0.3 and shapes["browOuterUpLeft"] > 0.3


def test_states_beyond_the_eight_emotions_show_on_the_face(model):
    """Animators type states the 8 Emo3D emotions do not name: these gave a neutral face (tired,
    bored) or a surprised one (confused, embarrassed)."""
    tired = model.predict("So tired.")
    assert min(tired.shapes["eyeBlinkLeft"], tired.shapes["eyeBlinkRight"]) > 0.4  # heavy lids
    assert tired.point.arousal < -0.3  # a state word keeps its own low arousal (-0.45 measured)
    assert model.predict("Not tired at all.").shapes["eyeBlinkLeft"] < 0.2
    bored = model.predict("Bored out of my mind.")
    assert bored.emotions.dominant() == "neutral" and bored.shapes["eyeBlinkLeft"] > 0.25
    confused = model.predict("Confused by the question.")
    shapes = confused.shapes  # one brow up, the other down: not a surprised face
    assert shapes["browOuterUpRight"] > 0.6 and shapes["browDownLeft"] > 0.4
    assert shapes["browOuterUpLeft"] < 0.3 and shapes["browDownRight"] < 0.2
    assert shapes["jawOpen"] < 0.3 and confused.emotions["surprise"] < 0.5
    named = model.predict("Her left eyebrow is raised, puzzled.").shapes  # the raised one as named
    assert named["browOuterUpLeft"] > 0.6 and named["browDownRight"] > 0.4
    assert named["browOuterUpRight"] < 0.3 and named["browDownLeft"] < 0.2
    for text in ("Ashamed of what he did.", "Embarrassed, avoiding my eyes."):
        down = model.predict(text).shapes
        assert min(down["eyeLookDownLeft"], down["eyeLookDownRight"]) > 0.4, text  # the gaze drops
    assert model.predict("Ashamed of what he did.").emotions.dominant() == "sadness"
    assert model.predict("Proud of my daughter.").emotions.dominant() == "happiness"
    assert model.predict("She is seriously happy.").emotions["anger"] < 0.05  # an intensifier here
    pain = model.predict("In terrible pain.").shapes
    assert pain["eyeSquintLeft"] > 0.5 and pain["browDownLeft"] > 0.4 and pain["noseSneerLeft"] > 0.3


@pytest.mark.parametrize(
    ("text", "emotion", "shape", "least"),
    [
        ("Menacing.", "contempt", "browDownLeft", 0.5),  # read as fear: "threatened" is near it
        ("A menacing, evil grin.", "contempt", "eyeSquintLeft", 0.5),  # the villain's grin
        ("Curious about the noise.", None, "browOuterUpLeft", 0.3),
        ("Concerned about his health.", "sadness", "browInnerUp", 0.4),
        ("Sympathetic to her loss.", "sadness", "browInnerUp", 0.4),  # read as fear
        ("I am so sorry.", "sadness", "browInnerUp", 0.4),  # read as neutral
        ("So excited for the trip!", "happiness", "mouthSmileLeft", 0.5),
        ("Stressed and overwhelmed at work.", None, "mouthPressLeft", 0.3),
        ("Sulking in the corner.", "sadness", "mouthShrugLower", 0.5),
        # one word for what the face does
        ("Screaming in terror.", "fear", "jawOpen", 0.6),  # the mouth was closed
        ("He yelled at the kids.", "anger", "jawOpen", 0.6),
        ("She giggled.", "happiness", "mouthSmileLeft", 0.6),  # "giggled" was no word at all
        ("He gaped at the sky.", "surprise", "jawOpen", 0.5),
        ("She bit her lip.", None, "mouthRollLower", 0.5),
        ("He cringed.", None, "mouthStretchLeft", 0.4),
    ],
)
def test_more_everyday_states_read_as_people_show_them(model, text, emotion, shape, least):
    prediction = model.predict(text)
    if emotion:
        assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()
    assert prediction.shapes[shape] >= least, (shape, prediction.shapes[shape])


@pytest.mark.parametrize("text", ["She is thinking hard.", "He is deep in thought.",
                                  "She is lost  in thought.", "He wonders what to do next."])
def test_a_thinking_face_looks_up_and_shows_no_feeling(model, text):
    """Read as situations these were contempt (1.0 for 'deep in thought') or fear (0.89)."""
    prediction = model.predict(text)
    feelings = prediction.emotions.to_dict()
    assert strongest_feeling(feelings)[1] < 0.35, feelings
    assert prediction.shapes["eyeLookUpLeft"] > 0.3 and prediction.shapes["mouthPressLeft"] > 0.2


def test_thought_outside_the_phrase_is_no_thinking_face(model):
    assert model.predict("I thought the exam went well.").emotions.dominant() == "happiness"
    opinion = model.predict("He thinks one blog post makes him smarter than the doctors.")
    assert opinion.shapes["eyeLookUpLeft"] < 0.1


def test_a_polite_or_forced_smile_is_smaller_and_does_not_reach_the_eyes(model):
    smile = model.predict("She smiles.").shapes
    for text in ("A forced, polite smile.", "He gives a fake smile.", "He smiles politely.",
                 "A strained smile.", "She forces a smile.", "He pretends to smile."):
        polite = model.predict(text).shapes
        assert 0.3 < polite["mouthSmileLeft"] < smile["mouthSmileLeft"] - 0.3, text
        assert polite["cheekSquintLeft"] < 0.4 < smile["cheekSquintLeft"], text  # no Duchenne squint


def test_a_feeling_put_on_smiles_without_reaching_the_eyes(model):
    """'She pretends to be happy.' was the felt grin of 'She is happy.' (cheek squint 0.81)."""
    felt = model.predict("She is happy.").shapes
    for text in ("She pretends to be happy.", "Fake happiness.", "He forced a laugh."):
        prediction = model.predict(text)
        assert prediction.shapes["mouthSmileLeft"] > 0.4, text
        assert prediction.shapes["cheekSquintLeft"] < 0.21 < felt["cheekSquintLeft"] - 0.5, text
        assert any("put on" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize("text", ["A shy smile.", "He smiles shyly.", "She looks shy."])
def test_a_shy_face_looks_down_with_at_most_a_small_smile(model, text):
    """'She looks shy.' was a terrified face (fear 0.83, eyes wide), a shy smile a full grin."""
    shapes = model.predict(text).shapes
    assert shapes["eyeLookDownLeft"] > 0.4 and shapes["mouthSmileLeft"] < 0.5 and shapes["eyeWideLeft"] < 0.3


def test_blushing_looks_down_and_is_not_read_as_contempt(model):
    """'She blushes and looks away when he compliments her.' was a smirk of contempt (0.82)."""
    for text in ("She blushes and looks away when he compliments her.", "He blushed."):
        prediction = model.predict(text)
        assert prediction.shapes["eyeLookDownLeft"] > 0.4, text
        assert prediction.emotions["contempt"] < 0.5 and prediction.emotions.dominant() != "contempt", text


@pytest.mark.parametrize(
    "text", ["She winces in pain.", "He is in pain.", "He stubbed his toe on the table."]
)
def test_pain_lowers_the_brows_without_a_sad_brow_or_frown(model, text):
    """A pain face lowers the brows and tightens the eyes (Prkachin's AU4, 6, 7, 9, 10); 'winces in
    pain' drew sadness's raised inner brows and frown (0.75) over it, and a stubbed toe was a neutral face."""
    shapes = model.predict(text).shapes
    assert shapes["browDownLeft"] > 0.4 and shapes["eyeSquintLeft"] > 0.5
    assert shapes["browInnerUp"] < 0.35 and shapes["mouthFrownLeft"] < 0.35, text


@pytest.mark.parametrize("text", ["She is calm.", "He is relaxed.", "She is at peace.", "He feels serene."])
def test_a_calm_face_stays_calm(model, text):
    """'She is calm.' drew fear's wide eyes (0.42, MiniLM); 'She is at peace.' read as sadness (0.58)."""
    prediction = model.predict(text)
    feelings = prediction.emotions.to_dict()
    assert strongest_feeling(feelings)[1] < 0.25, feelings
    assert prediction.shapes["eyeWideLeft"] < 0.1 and prediction.shapes["browInnerUp"] < 0.15


@pytest.mark.parametrize("text", ["She is wearing a hat.", "He wears glasses.", "A man with a beard."])
def test_a_text_about_looks_alone_keeps_a_neutral_face(model, text):
    """What someone looks like says nothing of the feeling: these drew surprise (0.57), contempt
    (0.55) and anger (0.38); with a feeling they still show it."""
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[1] < 0.35, emotions
    assert model.predict(f"{text[:-1]}, beaming with joy.").emotions["happiness"] > 0.8


def test_asleep_closes_the_eyes_with_no_feeling(model):
    for text in ("The baby is asleep.", "He pretended to be asleep.", "She is sleeping peacefully."):
        prediction = model.predict(text)  # "He pretended to be asleep." was anger 0.42
        assert prediction.shapes["eyeBlinkLeft"] > 0.7 and prediction.emotions.dominant() == "neutral", text
        assert strongest_feeling(prediction.emotions.to_dict())[1] < 0.25, text


def test_content_and_a_gentle_smile_smile_less_than_happy(model):
    happy = model.predict("She is happy.").shapes["mouthSmileLeft"]
    for text in ("He is content.", "A gentle smile.", "A soft smile."):
        smile = model.predict(text).shapes["mouthSmileLeft"]
        assert 0.3 < smile < happy - 0.25, (text, smile, happy)


def test_nostalgia_smiles_under_raised_inner_brows_and_impatience_presses_the_lips(model):
    """'She feels nostalgic.' was a full sad face (sadness 1.0); 'She is impatient.' a fearful
    one (fear 0.60, eyes wide)."""
    nostalgic = model.predict("She feels nostalgic.")
    assert nostalgic.shapes["mouthSmileLeft"] > 0.3 and nostalgic.shapes["browInnerUp"] > 0.3
    assert nostalgic.shapes["mouthFrownLeft"] < 0.3
    impatient = model.predict("She is impatient.")
    assert impatient.shapes["mouthPressLeft"] > 0.3 and impatient.shapes["browDownLeft"] > 0.25
    assert impatient.shapes["eyeWideLeft"] < 0.2 and impatient.emotions["fear"] < impatient.emotions["anger"]


@pytest.mark.parametrize(
    ("text", "shape", "least"),
    [  # the present tense animators write in: each moved nothing of its own before
        ("He clenches his jaw.", "mouthPressLeft", 0.4),
        ("She bares her teeth.", "mouthUpperUpLeft", 0.4),
        ("He flares his nostrils.", "noseSneerLeft", 0.4),
        ("He grits his teeth.", "mouthStretchLeft", 0.4),
        ("He narrows his eyes.", "eyeSquintLeft", 0.6),
        ("She closes her eyes.", "eyeBlinkLeft", 0.9),
        ("He opens his mouth.", "jawOpen", 0.5),
        ("He presses his lips together.", "mouthPressLeft", 0.6),
        ("She purses her lips.", "mouthPucker", 0.5),
        ("He knits his brows.", "browDownLeft", 0.6),
        ("She arches her eyebrows.", "browOuterUpLeft", 0.6),
        ("He scrunches up his face.", "noseSneerLeft", 0.5),
        ("He blinks.", "eyeBlinkLeft", 0.3),
    ],
)
def test_a_movement_in_the_present_tense_moves_the_face(model, text, shape, least):
    prediction = model.predict(text)
    assert prediction.shapes[shape] >= least, (shape, prediction.shapes[shape], prediction.cues)
    assert prediction.cues, text  # read as the face's own movement, not only through MiniLM


def test_a_movement_word_goes_to_its_own_feature_only(model):
    """"lower" in "her lower lip" lowered the brows of "brows are raised"; "opens her eyes" widened
    them in alarm (surprise 0.81, fear 0.78)."""
    both = model.predict("Her brows are raised and her lower lip trembles.").shapes
    assert both["browOuterUpLeft"] > 0.6 and both["browDownLeft"] < 0.2 and both["mouthShrugLower"] > 0.4
    assert model.predict("Her eyebrows lift.").shapes["browOuterUpLeft"] > 0.6
    opening = model.predict("She opens her eyes.")
    assert opening.shapes["eyeWideLeft"] < 0.3 and opening.emotions.dominant() == "neutral"


def test_trying_not_to_cry_holds_sadness_back_rather_than_denying_it(model):
    held = model.predict("Her lips tremble as she tries not to cry.")  # was neutral 0.90
    assert held.emotions.dominant() == "sadness" and held.shapes["mouthShrugLower"] > 0.4
    assert model.predict("She did not cry.").emotions["sadness"] < 0.3  # a plain 'not' still denies


@pytest.mark.parametrize(
    ("text", "emotion", "was"),
    [
        ("His face falls.", "sadness", "fear 1.00"),
        ("Her face lights up.", "happiness", "happiness 1.00, fear 0.41"),
        ("A cold, unreadable expression.", "neutral", "contempt 0.77"),
        ("She looks at him with adoration.", "happiness", "contempt 0.95"),
        ("He stares in disbelief, mouth hanging open.", "surprise", "fear 0.57"),
        ("The wizard ponders the riddle.", "neutral", "fear 0.79"),
    ],
)
def test_idioms_for_a_face_read_as_people_mean_them(model, text, emotion, was):
    emotions = model.predict(text).emotions.to_dict()
    assert max(emotions, key=emotions.get) == emotion, (emotions, was)
    assert all(v < 0.5 for k, v in emotions.items() if k not in (emotion, "neutral")), emotions


def test_displeased_lowers_the_brows_like_annoyed(model):
    """'The king is displeased.' was neutral 0.82 with a trace of sadness: no visible expression."""
    prediction = model.predict("The king is displeased.")
    assert prediction.emotions["anger"] > 0.3 and prediction.shapes["browDownLeft"] > 0.4


@pytest.mark.parametrize(
    ("text", "was"),
    [
        ("A poker face.", "contempt 0.79: a smirk"),
        ("He keeps a straight face.", "contempt 1.00"),
        ("Stone-faced, she listens.", "contempt 0.56"),
        ("He shows no expression at all.", "contempt 0.45, anger 0.21"),
        ("A resting face.", "fear 0.78: wide eyes"),
    ],
)
def test_a_blank_face_idiom_draws_no_expression(model, text, was):
    prediction = model.predict(text)
    assert max(prediction.shapes.to_dict().values()) < 0.1, (prediction.shapes.to_dict(), was)


# Situations: what happened, with no emotion word and no face word (our own sentences, none an
# anchor). Each read as neutral before the situation reading.
@pytest.mark.parametrize(
    ("text", "emotion", "shape"),
    [
        ("Our house burned down and we lost everything.", "sadness", "mouthFrownLeft"),
        ("Someone hacked my account and posted lies about me.", "anger", "browDownLeft"),
        ("He found a dead mouse in the cereal box.", "disgust", "mouthUpperUpLeft"),
        ("We are getting married in June!", "happiness", "mouthSmileLeft"),
        ("A stranger has been standing outside my window all night.", "fear", "eyeWideLeft"),
    ],
)
def test_a_situation_shows_the_emotion_people_feel_at_it(model, text, emotion, shape):
    prediction = model.predict(text)
    assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()
    assert prediction.shapes[shape] >= 0.5, (shape, prediction.shapes[shape])
    # the page says where the emotion came from
    assert f"near those that make people feel {emotion}" in " ".join(prediction.notes), prediction.notes


# Animals and children at play: MiniLM put chasing and wagging beside the fear situations (the
# fear before each), so a kitten made the face of someone being chased.
@pytest.mark.parametrize(
    ("text", "was"),
    [
        ("A kitten chasing its tail.", "fear 0.94"),
        ("The dog is wagging its tail at the door.", "fear 0.84"),
        ("A cat chasing a laser pointer.", "fear 0.89"),
        ("The kids are playing hide-and-seek in the garden.", "neutral 0.95"),
        ("My cat curls up purring on my lap.", "neutral 0.58"),
    ],
)
def test_play_shows_a_smile_not_fear(model, text, was):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert strongest_feeling(emotions)[0] == "happiness" and emotions["happiness"] >= 0.5, (emotions, was)
    assert emotions["fear"] < 0.3 and prediction.shapes["mouthSmileLeft"] >= 0.5, (emotions, was)
    assert prediction.shapes["eyeWideLeft"] < 0.2, prediction.shapes["eyeWideLeft"]  # fear 0.94 had 0.9
    assert "most people would feel happiness" in " ".join(prediction.notes), prediction.notes


@pytest.mark.parametrize(
    ("text", "was"),
    [
        ("My test results came back.", "happiness 1.00"),
        ("the test results came back and the doctor wants to see me first thing tomorrow", "happiness 0.68"),
    ],
)
def test_a_situation_whose_nearest_sentences_disagree_gets_no_grin(model, text, was):
    """Along the happiness direction, a little ahead, but nearest the sadness and fear anchors:
    at most a faint smile where there was a full grin."""
    prediction = model.predict(text)
    assert prediction.emotions["happiness"] < 0.4 and prediction.shapes["mouthSmileLeft"] < 0.4, was


def test_fireworks_show_delight_and_wonder_and_a_frightened_dog_still_fear(model):
    """'Fireworks light up the night sky.' read as fear 0.75 (MiniLM: explosions)."""
    awe = model.predict("Fireworks light up the night sky.")
    emotions = awe.emotions.to_dict()
    assert emotions["surprise"] >= 0.4 and emotions["happiness"] >= 0.4 and emotions["fear"] < 0.3, emotions
    assert awe.shapes["mouthSmileLeft"] >= 0.3 and awe.shapes["browOuterUpLeft"] >= 0.3, awe.shapes.to_dict()
    # only what fireworks do is a spectacle: the word alone lends no smile to a frightened dog
    frightened = model.predict("The dog is terrified of the fireworks.").emotions.to_dict()
    assert strongest_feeling(frightened)[0] == "fear" and frightened["happiness"] < 0.1, frightened


# What people achieve, and a death said gently: each read as a calm face (neutral before each).
@pytest.mark.parametrize(
    ("text", "emotion", "was"),
    [
        ("He passed the bar exam on his second attempt.", "happiness", "neutral 0.97"),
        ("She got into her first-choice university.", "happiness", "neutral 0.72"),
        ("He set a new personal best in the 400 metres.", "happiness", "neutral 0.80"),
        ("She landed her dream job at the aquarium.", "happiness", "neutral 0.87"),
        ("I got my black belt after eight years of training.", "happiness", "neutral 0.63"),
        ("He passed away peacefully in his sleep.", "sadness", "neutral 0.87"),
    ],
)
def test_an_achievement_or_a_death_reads_as_people_feel_it(model, text, emotion, was):
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions) == (emotion, pytest.approx(emotions[emotion])), (emotions, was)
    assert emotions[emotion] >= 0.5, (emotions, was)


@pytest.mark.parametrize("text", ["She didn't pass the exam.", "The dog isn't wagging its tail anymore."])
def test_a_negated_achievement_or_play_shows_no_smile(model, text):
    prediction = model.predict(text)
    assert prediction.emotions["happiness"] < 0.1 and prediction.shapes["mouthSmileLeft"] < 0.1
    assert any("is negated: happiness suppressed" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize("text", ["She passed on the job offer.", "He passed the salt to his sister."])
def test_passing_on_an_offer_or_the_salt_is_no_death_and_no_exam(model, text):
    emotions = model.predict(text).emotions.to_dict()
    assert emotions["sadness"] < 0.3 and emotions["happiness"] < 0.3, emotions


def test_being_chased_is_still_fear(model):
    """The play phrases name what is chased ("its tail", "a ball", "each other"), not "me"."""
    emotions = model.predict("Someone is chasing me through the woods.").emotions.to_dict()
    assert strongest_feeling(emotions) == ("fear", pytest.approx(1.0, abs=0.2)), emotions


@pytest.mark.parametrize(
    "text",
    [
        "The doctor moved my check-up to Friday.",  # the fear anchors have doctors
        "The football match starts at eight.",  # the happiness and anger anchors have matches
        "The hospital car park is behind the main building.",
        "Nobody died in the accident.",  # negated: MiniLM would put it beside "died"
        "No one stole anything.",
        "What?",  # too short to tell a situation: it read as a contempt remark
        "Why?",
    ],
)
def test_mundane_or_negated_situations_keep_a_neutral_face(model, text):
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[1] < 0.3, emotions


# Short mundane sentences (none of them a flat anchor): these drew fear 0.89, happiness 0.83,
# fear 0.52, sadness 0.41 and anger 0.48 before the flat anchors (python -m lab.expressions.situations
# scores 60 more held out)
@pytest.mark.parametrize("text", ["The man stands.", "She turns her head to the side.", "He is very tall.",
                                  "She reads a book.", "He sat down."])
def test_a_mundane_short_sentence_leaves_the_face_at_rest(model, text):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert strongest_feeling(emotions)[1] < 0.3, emotions
    assert any("the face stays at rest" in note for note in prediction.notes), prediction.notes  # says why


def test_only_a_text_with_nothing_to_show_says_the_face_stays_at_rest(model):
    for text in ("Happy.", "Not happy.", "My dog died.", "He looks to the left."):
        assert not any("stays at rest" in note for note in model.predict(text).notes), text


@pytest.mark.parametrize(("text", "emotion"), [
    ("She is upset.", "sadness"),  # contempt 0.94: read as a situation
    ("He is dismayed.", "sadness"),  # contempt 1.00
    ("She is inconsolable.", "sadness"),  # contempt 1.00
    ("He is discouraged.", "sadness"),  # contempt 1.00
    ("I feel so down today.", "sadness"),  # happiness 0.64
    ("Feeling blue.", "sadness"),  # neutral
    ("She is cranky.", "anger"),  # contempt 0.27
    ("He is appalled.", "disgust"),  # contempt 0.78
    ("She is silly.", "happiness"),  # contempt 0.94
    ("She is hysterical.", "fear"),  # contempt 0.58
    ("He is cautious.", "fear"),
    ("Touched by her kindness.", "happiness"),  # contempt 0.43
])
def test_everyday_feeling_words_read_as_the_feeling(model, text, emotion):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert strongest_feeling(emotions)[0] == emotion and emotions[emotion] >= 0.3, emotions
    assert not any("read as a situation" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize(("text", "emotion"), [
    ("Eww.", "disgust"), ("Ewww, that's gross!", "disgust"), ("Blech.", "disgust"),
    ("Grr!", "anger"), ("Argh!", "anger"), ("Ughhh.", "anger"),
    ("Aww.", "happiness"), ("smh", "contempt"),
])
def test_an_interjection_shows_the_feeling_it_voices(model, text, emotion):
    """MiniLM left these at rest (neutral 0.87-0.99): word pieces it does not read."""
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[0] == emotion and emotions[emotion] >= 0.4, emotions


@pytest.mark.parametrize(("text", "was"), [
    ("I like it.", "contempt 1.00"), ("I really like you.", "contempt 0.61"),
    ("She likes him.", "rest"), ("I enjoyed the movie.", "surprise 0.84"),
])
def test_someone_who_likes_something_smiles(model, text, was):
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == "happiness" and value >= 0.4, (name, value, was)


@pytest.mark.parametrize("text", ["I don't like it.", "I didn't enjoy that at all."])
def test_someone_who_does_not_like_it_does_not_smile_or_sneer(model, text):
    """Both read as contempt at 1.00 or disgust; disliking is no one-sided sneer."""
    emotions = model.predict(text).emotions.to_dict()
    assert emotions["happiness"] < 0.2 and emotions["contempt"] < 0.3, emotions


@pytest.mark.parametrize("text", ["He looks like his father.", "I'd like a coffee.", "It smells like rain."])
def test_like_as_a_comparison_or_a_request_leaves_the_face_at_rest(model, text):
    assert model.predict(text).emotions["happiness"] < 0.2


@pytest.mark.parametrize(("text", "emotion"), [
    ("Yes!!", "happiness"), ("lets gooo", "happiness"), ("Enough!", "anger"), ("Get back here!", "anger"),
    ("Run!", "fear"), ("Don't shoot!", "fear"), ("Oh, please.", "contempt"), ("Keep dreaming.", "contempt"),
    ("Someone threw up in the elevator.", "disgust"), ("He's gone.", "sadness"),
    ("I just wish I'd called her more.", "sadness"),
])
def test_more_barks_show_their_feeling(model, text, emotion):
    """Lines like those of a set written by someone who had not seen the word lists; each read
    another way before (at rest, or anger for "lets gooo")."""
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == emotion and value >= 0.4, (name, value)


@pytest.mark.parametrize("text", [
    "I can't get enough!", "He's gone to the shop.", "Oh please, please let me go!",
    "The thief was caught and the necklace returned.",
])
def test_the_same_words_elsewhere_are_no_bark(model, text):
    emotions = model.predict(text).emotions.to_dict()
    assert emotions["anger"] < 0.3 and emotions["sadness"] < 0.3 and emotions["contempt"] < 0.3, emotions


@pytest.mark.parametrize(("text", "emotion", "was"), [
    ("Watch out!", "fear", "fear 0.10"), ("Help!", "fear", "fear 0.03"),
    ("Oh no!", "sadness", "rest"), ("Good job!", "happiness", "rest"), ("Well done.", "happiness", "rest"),
    ("Finally!", "happiness", "happiness 0.26"), ("Thank god.", "happiness", "rest"),
    ("Let's go!", "happiness", "rest"), ("How dare you!", "anger", "contempt 0.96"),
    ("Leave me alone.", "anger", "contempt 1.00"), ("This is terrible.", "sadness", "contempt 1.00"),
    ("I can't do this anymore.", "sadness", "sadness 0.10"),
])
def test_a_short_bark_shows_the_feeling_it_voices(model, text, emotion, was):
    """The one-line barks a game character shouts: MiniLM left most at rest or read a smirk."""
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == emotion and value >= 0.4, (name, value, was)


@pytest.mark.parametrize("text", [
    "That makes my blood boil!", "I've had it with you!", "I'm sick of your excuses.", "I'm fed up.",
    "Get off my land!", "You'll pay for this!", "Give it back, or I'll break your arm!",
    "Don't you ever talk to me like that!", "How could you forget my birthday?",
    '"Stop lying to my face!"', "Thief! Guards, seize him!", "Now you will answer for it!",
])
def test_an_angry_idiom_or_threat_shows_anger(model, text):
    """Idioms and threats that name no feeling: most read as neutral or as contempt."""
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == "anger" and value >= 0.5, (name, value)


@pytest.mark.parametrize(("text", "was"), [
    ("You call that a sword?", "rest"), ("Is that the best you can do?", "contempt 0.78"),
    ("Is that supposed to scare me?", "fear 0.73"), ("Hmph.", "rest"),
    ("You're beneath me.", "contempt 0.70"), ("Don't waste my time.", "contempt 0.54"), ("As if!", "rest"),
])
def test_a_taunt_shows_contempt(model, text, was):
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == "contempt" and value >= 0.45, (name, value, was)


@pytest.mark.parametrize(("text", "was"), [
    ("Got a promotion at work.", "anger 0.73"),  # 'promotion' said so, MiniLM read the workplace
    ("He got a raise.", "contempt 0.47"),
    ("The doctor said I'm cancer free.", "sadness 0.82"),
    ("Grandpa is home from the hospital.", "sadness 0.93"),
])
def test_good_news_about_a_grim_topic_reads_as_good_news(model, text, was):
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == "happiness" and value >= 0.4, (name, value, was)


@pytest.mark.parametrize(("text", "was"), [
    ("Our holiday was ruined by the storm.", "happiness 0.52"),
    ("They forgot my birthday celebration.", "happiness 0.72"),
    ("My vacation got cancelled because of work.", "happiness 0.47"),
    ("He missed his graduation because of a flat tyre.", "happiness 0.57"),
])
def test_a_spoiled_pleasant_event_does_not_smile(model, text, was):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert emotions["happiness"] < 0.2 and emotions["sadness"] >= 0.25, (emotions, was)
    assert any("is spoiled" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize(("text", "was"), [
    ("They stole the trophy we won.", "happiness 1.00, anger 0.60"),
    ("Vandals smashed the trophy we won.", "happiness 1.00"),
])
def test_a_pleasant_thing_taken_or_broken_is_no_longer_a_win(model, text, was):
    """'won' describes what was stolen or smashed: the loss is the news."""
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert emotions["happiness"] < 0.2, (emotions, was)
    assert strongest_feeling(emotions)[0] in ("anger", "sadness"), emotions
    assert any("'won' is spoiled" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize("text", ["Eyes welling up.", "Her eyes began to well up.", "Eyes brimming."])
def test_eyes_welling_up_are_tears(model, text):
    """'Eyes welling up.' was happiness 0.72 over sadness 0.42 (MiniLM alone read it)."""
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[0] == "sadness" and emotions["sadness"] > 0.8, emotions


def test_well_rested_eyes_are_no_tears(model):
    """Guard (right before and after): 'well' beside the eyes is no tear unless it wells up."""
    emotions = model.predict("His eyes were well rested.").emotions.to_dict()
    assert emotions["sadness"] < 0.2, emotions


@pytest.mark.parametrize("text", ["Who broke my window?!", "Who ate my sandwich?", "Who took my charger?"])
def test_who_broke_my_things_is_an_angry_question(model, text):
    """'Who broke my window?!' read as surprise 0.67 over anger 0.33 ('?!' voices surprise)."""
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[0] == "anger" and emotions["anger"] >= 0.6, emotions


def test_stealing_the_show_is_no_theft(model):
    """The idiom is no theft ('stole' read as one made it anger 0.63 over happiness 0.60), and
    it does not spoil the award."""
    emotions = model.predict("He stole the show and won the award.").emotions.to_dict()
    assert strongest_feeling(emotions)[0] == "happiness", emotions


def test_a_spoiled_party_with_a_cry_is_dismay_not_a_smile(model):
    """MiniLM places it among happy birthdays (1.00); the cry and the spoiling word outweigh it."""
    prediction = model.predict("Oh no, they forgot my birthday party?!")
    emotions = prediction.emotions.to_dict()
    assert emotions["happiness"] < 0.35 and emotions["sadness"] >= 0.4, emotions
    assert not any("feel happiness" in note for note in prediction.notes), prediction.notes


def test_bad_news_about_a_cheerful_topic_does_not_smile(model):
    emotions = model.predict("The birthday party was cancelled because grandma died.").emotions.to_dict()
    assert strongest_feeling(emotions)[0] == "sadness" and emotions["happiness"] < 0.2, emotions


@pytest.mark.parametrize(("text", "quoted", "stand_in"), [
    ("He didn't make it.", "didn't make it", "died"),
    ("I don't like it.", "i don't like", "gladly"),
    ("Oh no!", "oh no", "alas"),
    ("Turns out he was a spy.", "turns out", "revelation"),
])
def test_the_notes_quote_the_words_the_user_typed(model, text, quoted, stand_in):
    """A phrase is read as a word that means it; the notes named that word ('died' is negated...)."""
    notes = " ".join(model.predict(text).notes)
    assert f"'{quoted}'" in notes and f"'{stand_in}'" not in notes, notes


def test_ugh_at_something_gross_reads_as_disgust(model):
    """'ugh' leaned on anger alone; with MiniLM's disgust at 0.49 the face read as neutral."""
    emotions = model.predict("Ugh, there's a hair in my soup.").emotions.to_dict()
    assert max(emotions, key=emotions.get) == "disgust", emotions


def test_a_cry_voices_a_feeling_unless_the_text_names_one(model):
    """'Wow!' is no event ('tells what happened' was its note); 'Wow, I'm so happy!' voices joy."""
    assert "'wow' voices surprise" in model.predict("Wow!").notes
    prediction = model.predict("Wow, I'm so happy!")
    assert not any("'wow'" in note for note in prediction.notes), prediction.notes
    assert strongest_feeling(prediction.emotions.to_dict())[0] == "happiness"


@pytest.mark.parametrize("text", ["You're pregnant?! Since when?", "Wait, you two are getting married?!"])
def test_news_asked_with_interrobang_is_happily_surprised(model, text):
    """Both were a plain smile (happiness 0.94 and 1.00, surprise 0.16 and 0.00)."""
    emotions = model.predict(text).emotions.to_dict()
    assert emotions["happiness"] >= 0.5 and emotions["surprise"] >= 0.5, emotions


def test_who_the_hell_is_anger(model):
    name, value = strongest_feeling(model.predict('"Who the hell took my parking spot?"').emotions.to_dict())
    assert name == "anger" and value >= 0.5, (name, value)


@pytest.mark.parametrize(("text", "shape", "was"), [
    ("Talking.", "jawOpen", "anger 0.34"), ("Chewing gum.", "jawOpen", "sadness 0.34"),
    ("Eating an apple.", "jawOpen", "disgust 0.71"), ("Sneezing.", "eyeBlinkLeft", "surprise 0.58"),
    ("Whispering a secret.", "mouthFunnel", "fear 0.52"),
])
def test_an_everyday_action_moves_the_mouth_and_shows_no_feeling(model, text, shape, was):
    prediction = model.predict(text)
    assert strongest_feeling(prediction.emotions.to_dict())[1] < 0.3, was
    assert prediction.shapes.to_dict()[shape] >= 0.2


@pytest.mark.parametrize(("text", "emotion"), [
    ("The cook sneezed right into the soup.", "disgust"),
    ("My roommate ate my food and lied about it.", "anger"),
])
def test_in_a_longer_sentence_an_action_is_what_someone_did(model, text, emotion):
    """The face is the observer's: it does not sneeze or chew, and the situation is still read."""
    prediction = model.predict(text)
    assert strongest_feeling(prediction.emotions.to_dict())[0] == emotion
    sources = [source for rows in prediction.explanation.values() for source, _ in rows]
    assert not any(source.startswith(("cue: 'sneezed'", "cue: 'ate'")) for source in sources), sources
    assert prediction.shapes.to_dict()["eyeBlinkLeft"] < 0.3


@pytest.mark.parametrize(("text", "emotion", "was"), [
    ("Crying tears of joy.", "happiness", "sadness 0.99"),
    ("Sticking out her lower lip.", "sadness", "contempt 0.85"),  # a pout
])
def test_an_idiom_of_the_face_reads_as_meant(model, text, emotion, was):
    name, _ = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == emotion, was


def test_a_thousand_yard_stare_is_no_smirk(model):
    assert model.predict("A thousand-yard stare.").emotions["contempt"] < 0.3  # was 0.86


def test_dismay_in_danger_is_still_fear(model):
    name, _ = strongest_feeling(model.predict('"Oh no, oh no, the ship is sinking!"').emotions.to_dict())
    assert name == "fear"
    emotions = model.predict("Don't leave me alone here!").emotions.to_dict()
    assert emotions["anger"] < 0.3, emotions  # a plea, not 'leave me alone'


@pytest.mark.parametrize("text", [
    "Wow!", "Whoa.", "What?!", "No way!", "Really?", "Seriously?", "You're kidding me.",
    "Are you serious?!", "Oh my god.", "Holy cow!", "Guess what, I'm pregnant!",
    "We came home to find the door wide open.", "To my surprise, he said yes.",
])
def test_a_cry_of_surprise_or_disbelief_shows_surprise(model, text):
    """'What?!', 'No way!', 'Really?' and 'Guess what' stayed at rest; 'Wow!' was a faint
    surprise (0.35): the first lines a game character says on hearing news."""
    name, value = strongest_feeling(model.predict(text).emotions.to_dict())
    assert name == "surprise" and value >= 0.5, (name, value)


@pytest.mark.parametrize("text", [
    "There is no way I am going.", "What do you want?", "Really good soup.",
    "Are you serious about the job?", "She came to find her keys.",
])
def test_the_same_words_in_a_plain_sentence_show_no_surprise(model, text):
    emotions = model.predict(text).emotions.to_dict()
    assert emotions["surprise"] < 0.3, emotions

@pytest.mark.parametrize(("text", "emotion", "was"), [
    ("He used to be angry, now he is calm.", "neutral", "anger"),  # was anger 0.88: a full scowl
    ("He was happy, then he became sad.", "sadness", "happiness"),  # "Happily sad" (0.86 each)
    ("At first she was scared, but then she laughed.", "happiness", "fear"),
    ("She stopped crying and smiled.", "happiness", "sadness"),
    ("She was furious until he apologized, now she is happy.", "happiness", "anger"),  # anger 1.00
    ("She went from happy to sad.", "sadness", "happiness"),
    ("Happy, then sad, then angry.", "anger", "sadness"),
])
def test_a_feeling_that_gives_way_to_another_shows_the_last_one(model, text, emotion, was):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert max(emotions, key=emotions.get) == emotion and emotions[was] < 0.1, emotions
    assert any("is over by the end of the text" in note for note in prediction.notes), prediction.notes


def test_a_feeling_that_is_over_leaves_no_face_and_unchanged_texts_keep_theirs(model):
    stopped = model.predict("He stopped crying.")
    assert stopped.emotions["sadness"] < 0.1 and stopped.shapes["mouthFrownLeft"] < 0.1  # the cue is over too
    assert model.predict("I can't stop smiling.").emotions["happiness"] > 0.6  # emphasis, not a stop
    assert model.predict("I am so happy now.").emotions["happiness"] > 0.8  # nothing follows "now"
    ear_to_ear = model.predict("She smiles from ear to ear.")  # no feeling between "from" and "to"
    assert ear_to_ear.shapes["mouthSmileLeft"] > 0.8


@pytest.mark.parametrize(("text", "emotion", "shape"), [
    ("She rolls her eyes at his excuse.", "contempt", "eyeLookUpLeft"),  # contempt 0.05: eyes up alone
    ("An eye roll.", "contempt", "eyeLookUpRight"),  # both eyes ("an" is no one-sided eye here)
    ("He bites his nails, waiting for the verdict.", "fear", "browInnerUp"),  # anger 0.41
])
def test_a_gesture_shows_the_feeling_it_is_known_for(model, text, emotion, shape):
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert strongest_feeling(emotions)[0] == emotion and emotions[emotion] >= 0.4, emotions
    assert prediction.shapes[shape] >= 0.5, prediction.shapes.to_dict(include_zero=False)


def test_a_clenched_jaw_keeps_the_mouth_shut(model):
    """Anger's prior parted the lips over a clenched jaw (teeth showing). Gritted teeth stay as
    they were: shut, they read as sad to FER ('he grits his teeth as the insult lands')."""
    jaw = model.predict("He clenches his jaw and says nothing.").shapes
    assert jaw["jawOpen"] < 0.05 and jaw["mouthUpperUpLeft"] < 0.05 and jaw["mouthPressLeft"] >= 0.4


@pytest.mark.parametrize("text", ["He smirks, knowing he won.", "He smirks."])
def test_a_smirk_raises_one_cheek_with_its_one_corner(model, text):
    """The smirk's corner was one-sided, but happiness raised both cheeks (0.96 each): a full smile."""
    shapes = model.predict(text).shapes
    assert shapes["mouthSmileLeft"] < 0.5 * shapes["mouthSmileRight"]
    assert shapes["cheekSquintLeft"] < 0.5 * shapes["cheekSquintRight"], shapes.to_dict(include_zero=False)


@pytest.mark.parametrize(("text", "emotion", "was"), [
    ("His jaw drops.", "surprise", "anger"),  # anger 0.50 under an open jaw
    ("His jaw hits the floor.", "surprise", "fear"),  # fear 1.00
    ("Over the moon.", "happiness", "surprise"),  # surprise 0.74
    ("Bored to death.", "neutral", "sadness"),  # sadness 0.60: "death"
    ("She laughed until she cried.", "happiness", "sadness"),  # not a laugh that gave way to tears
])
def test_idioms_of_feeling_read_as_meant(model, text, emotion, was):
    emotions = model.predict(text).emotions.to_dict()
    assert max(emotions, key=emotions.get) == emotion and emotions[was] < 0.5, emotions


@pytest.mark.parametrize(("text", "emotion"), [
    ("A person trying to hide their anger.", "anger"),  # anger 0.90 with an open mouth
    ("She is masking her fear.", "fear"),
    ("Holding back tears.", "sadness"),
    ("He suppresses a smile.", "happiness"),
])
def test_a_hidden_feeling_shows_weaker_behind_a_shut_mouth(model, text, emotion):
    hidden, shown = model.predict(text), model.predict(text.split()[-1].rstrip(".").capitalize() + ".")
    assert hidden.emotions[emotion] < 0.75 * shown.emotions[emotion], (hidden.emotions.to_dict(), emotion)
    assert hidden.emotions[emotion] >= 0.3  # still there
    assert hidden.shapes["jawOpen"] < 0.05 and hidden.shapes["mouthPressLeft"] >= 0.4
    assert any("is hidden" in note for note in hidden.notes), hidden.notes


@pytest.mark.parametrize(("text", "emotion", "shown"), [
    ("Angry but trying to stay calm.", "anger", "Angry."),  # anger 0.90, brows and squint full
    ("Furious but keeping his cool.", "anger", "Furious."),  # anger 1.00
    ("Scared but trying to look brave.", "fear", "Scared."),  # fear 0.93
])
def test_a_feeling_kept_in_with_composure_shows_weaker_behind_a_shut_mouth(model, text, emotion, shown):
    hidden, plain = model.predict(text), model.predict(shown)
    assert 0.3 <= hidden.emotions[emotion] < 0.75 * plain.emotions[emotion], hidden.emotions.to_dict()
    assert hidden.shapes["jawOpen"] < 0.05 and hidden.shapes["mouthPressLeft"] >= 0.4
    assert any("is hidden" in note for note in hidden.notes), hidden.notes


@pytest.mark.parametrize("text", ["Worried.", "She is nervous.", "Anxious about the exam.", "Nervous laugh."])
def test_worry_draws_worried_brows_not_a_terrified_face(model, text):
    """'Worried.', 'She is nervous.' and 'Terrified.' drew one face (eyes wide 0.83-1.0, mouth
    stretched); 'Nervous laugh.' a wide-eyed grin."""
    worried, terrified = model.predict(text).shapes, model.predict("Terrified.").shapes
    assert worried["browInnerUp"] >= 0.5 and worried["browDownLeft"] >= 0.25  # raised and drawn together
    assert worried["eyeWideLeft"] < 0.31 and terrified["eyeWideLeft"] > 0.8
    assert worried["mouthStretchLeft"] < 0.21
    assert worried["jawOpen"] < 0.05 or "laugh" in text  # a laugh opens the mouth itself


@pytest.mark.parametrize(("text", "shape"), [
    ("Nervous and terrified.", "eyeWideLeft"),  # a stronger fear word asks for the wide eyes
    ("Worried and shocked.", "eyeWideLeft"),
    ("Worried, wide-eyed.", "eyeWideLeft"),  # and so does the face the words describe
])
def test_worry_beside_terror_shock_or_wide_eyes_keeps_them(model, text, shape):
    assert model.predict(text).shapes[shape] >= 0.7


def test_a_hiding_word_far_from_the_feeling_hides_nothing(model):
    assert model.predict("He hides behind the door, terrified.").emotions["fear"] > 0.9


def test_a_squint_narrows_both_lids_and_a_pout_or_defiance_reads_as_its_feeling(model):
    squint = model.predict("She squints into the sun.").shapes  # the lower lid alone barely showed
    assert squint["eyeSquintLeft"] >= 0.6 and squint["eyeBlinkLeft"] >= 0.25
    pout = model.predict("A child pouts after being told no.").emotions  # disgust 0.37
    name, value = strongest_feeling(pout.to_dict())
    assert name == "sadness" and value >= 0.3, pout.to_dict()
    defiance = model.predict("The queen raises her chin in defiance.").emotions.to_dict()  # surprise 0.39
    assert strongest_feeling(defiance)[0] in ("anger", "contempt"), defiance


@pytest.mark.parametrize(("text", "emotion"), [
    ("When the door creaked open in the dark, her heart pounded and she froze.", "fear"),  # sadness 0.59
    ("His blood ran cold.", "fear"),
    ("A shiver ran down her spine.", "fear"),
    ("She opened the gift and squealed.", "happiness"),  # neutral: "squealed" was no word
])
def test_what_the_body_does_tells_the_feeling(model, text, emotion):
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[0] == emotion and emotions[emotion] >= 0.5, emotions


@pytest.mark.parametrize(("text", "emotion"), [
    ('"I hate you, I hate all of you!"', "anger"),  # contempt 1.00: "hate" was no word
    ('"Shut up! Just shut up!"', "anger"),  # contempt 1.00
    ('"I miss you."', "sadness"),
    ('"He didn\'t make it."', "sadness"),  # contempt 1.00
    ('"Please don\'t hurt me!"', "fear"),
    ('"Stay away from me!"', "fear"),
    ('"Help! Somebody help me!"', "fear"),
    ('"We did it! We actually did it!"', "happiness"),
    ('"I despise cowards like you."', "contempt"),
])
def test_a_spoken_line_shows_the_speakers_face(model, text, emotion):
    emotions = model.predict(text).emotions.to_dict()
    assert strongest_feeling(emotions)[0] == emotion and emotions[emotion] >= 0.4, emotions


def test_making_it_to_somewhere_is_no_death(model):
    assert model.predict("He didn't make it to the party.").emotions["sadness"] < 0.4


@pytest.mark.parametrize("text", ["The bridge is out!", "Look behind you!"])
def test_a_line_said_with_feeling_is_read_without_the_flat_anchors(model, text):
    """The flat anchors share such lines' topics and drew them to rest; said flatly they stay flat."""
    from emo_app.text.embedded import exclaimed

    assert exclaimed(text) and not exclaimed(text.replace("!", "."))
    assert model.predict(text).emotions["fear"] >= 0.4
    calm = model.predict(text.replace("!", ".")).emotions.to_dict()
    assert strongest_feeling(calm)[1] < 0.3, calm


@pytest.mark.parametrize(("text", "emotion", "most"), [
    ("I dont feel happy.", "happiness", 0.2),  # happy 0.81: "dont" was no negation
    ("He isnt angry.", "anger", 0.2),  # anger 0.86
    ("She wasnt scared.", "fear", 0.2),
])
def test_a_negation_typed_without_its_apostrophe_still_negates(model, text, emotion, most):
    assert model.predict(text).emotions[emotion] < most
    assert model.predict("I cant stop smiling.").emotions["happiness"] > 0.6  # and emphasis stays emphasis


def test_a_word_stretched_for_emphasis_reads_as_the_word(model):
    """'sooo happyyy' read as happiness 0.59: 'happyyy' was no word, 'sooo' no degree."""
    prediction = model.predict("sooo happyyy")
    assert prediction.emotions["happiness"] >= 0.9, prediction.emotions.to_dict()
    assert "'happyyy' read as 'happy'" in prediction.notes
    assert model.predict("grrr").emotions["anger"] >= 0.5  # an interjection stays as typed


@pytest.mark.parametrize(("text", "angry"), [
    ("They cross the street at the corner.", False),  # anger 0.45: "cross" is also a verb
    ("Cross the bridge and turn right.", False),
    ("She is cross with him.", True),
    ("He's very cross.", True),
    ("A cross look.", True),
])
def test_cross_is_anger_only_when_it_describes_someone(model, text, angry):
    anger = model.predict(text).emotions["anger"]
    assert (anger >= 0.4) if angry else (anger < 0.2), anger


def test_a_text_that_names_its_feeling_is_not_read_as_a_situation(model):
    # "he is content" sat nearer the contempt remarks than the mundane sentences
    prediction = model.predict("he is content")
    emotions = prediction.emotions.to_dict()
    # content is a mild feeling (the flat anchor "He is tall." now takes the share MiniLM gave it)
    assert strongest_feeling(emotions)[0] == "happiness" and emotions["happiness"] >= 0.3, emotions
    assert emotions["contempt"] < 0.1, emotions
    assert not any("read as a situation" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize("text", ["Oh joy, more paperwork.", "Just perfect, the train is cancelled.",
                                  "Yeah, right.", "Big surprise, he is late again."])
def test_a_stock_ironic_phrase_reads_as_contempt(model, text):
    """"Oh joy, more paperwork." read as joy (0.87) and "Big surprise, he is late again." as
    surprise: a stock phrase standing on its own is said in irony."""
    prediction = model.predict(text)
    emotions = prediction.emotions.to_dict()
    assert max(emotions, key=emotions.get) == "contempt" and emotions["happiness"] < 0.3, emotions
    assert any("irony" in note for note in prediction.notes), prediction.notes


@pytest.mark.parametrize("text", ["The dress is just perfect.", "Oh joy!"])
def test_the_same_words_inside_a_sentence_or_alone_are_meant(model, text):
    emotions = model.predict(text).emotions.to_dict()
    assert max(emotions, key=emotions.get) == "happiness", emotions


def test_could_not_be_happier_is_the_most_not_the_opposite(model):
    assert model.predict("I couldn't be happier.").emotions.dominant() == "happiness"
    assert model.predict("I could not be happier!").emotions.dominant() == "happiness"
    assert model.predict("I can't be happy here.").emotions["happiness"] < 0.2


def test_a_negation_that_means_emphasis_does_not_negate(model):
    # "can't believe I won" negated "won" and gave a sad face
    lottery = model.predict("I can't believe I won the lottery!").emotions
    assert lottery["happiness"] >= 0.5 and lottery["surprise"] >= 0.5, lottery.to_dict()
    smiling = model.predict("I can't stop smiling.")
    assert smiling.emotions.dominant() == "happiness" and smiling.shapes["mouthSmileLeft"] >= 0.5
    assert model.predict("I am not happy.").emotions["happiness"] < 0.2  # still a negation
    assert model.predict("I can't believe he's not happy.").emotions["happiness"] < 0.2  # and this


def test_situation_anchors_name_no_feeling_and_cover_every_emotion():
    """An anchor with an emotion word would teach the word, not the situation (an everyday
    action of the mouth, 'The cook sneezed into the soup', is no description of a face)."""
    from emo_app.emotion.emotions import EMO3D_EMOTIONS
    from emo_app.text.cues import analyse
    from emo_app.text.embedded import load_emotion_anchors

    anchors = load_emotion_anchors()
    for register in ("faces", "situations"):
        assert set(anchors[register]) == set(EMO3D_EMOTIONS)
        assert all(len(anchors[register][e]) >= 5 for e in EMO3D_EMOTIONS)
    for emotion, sentences in [*anchors["situations"].items(), *anchors["flat"].items()]:
        for sentence in sentences:
            analysis = analyse(sentence)
            assert not [h.word for h in analysis.emotion_hits if not h.event], (emotion, sentence)
            assert not [cue.phrase for cue in analysis.cues if not cue.activity], (emotion, sentence)


def test_every_shape_explains_itself(model):
    prediction = model.predict("A joyful woman with a big smile and raised cheeks.")
    active = prediction.shapes.to_dict(include_zero=False)
    assert active
    for name, value in active.items():
        if value > 0.01:
            assert prediction.explanation.get(name), name
    assert any(
        src.startswith("emotion: happiness") for src, _ in prediction.explanation["mouthSmileLeft"]
    ) or any(src.startswith("cue:") for src, _ in prediction.explanation["mouthSmileLeft"])


def test_the_c2a2_point_follows_the_emotion(model):
    happy = model.predict("an ecstatic, joyful face").point
    sad = model.predict("a heartbroken, sorrowful face").point
    assert happy.valence > 0.5 and sad.valence < 0 and sad.z < 0


def test_predictions_are_deterministic_and_batch_matches_single(model):
    texts = ["a joyful smile", "a frightened face with wide eyes"]
    batch = model.predict_batch(texts)
    single = [model.predict(t) for t in texts]
    again = model.predict(texts[0])
    assert again.shapes == single[0].shapes
    for b, s in zip(batch, single):
        np.testing.assert_allclose(b.shapes.values, s.shapes.values, atol=1e-4)


def test_to_dict_is_json(model):
    prediction = model.predict("a joyful smile")
    assert isinstance(prediction, TextPrediction)
    data = json.loads(json.dumps(prediction.to_dict()))
    assert data["dominant_emotion"] == "happiness"
    assert len(data["blendshapes"]) == 52 and set(data["emotions"]) >= {"neutral", "contempt"}


@pytest.mark.parametrize(
    ("text", "emotion", "shape"),
    [("😂😂😂", "happiness", "jawOpen"), ("😡", "anger", "browDownLeft"), ("😢", "sadness", "browInnerUp"),
     ("😱", "fear", "eyeWideLeft"), ("🤢", "disgust", "noseSneerLeft"),
     ("I failed the exam :(", "sadness", "mouthFrownLeft"), ("so happy :)", "happiness", "mouthSmileLeft"),
     ("lol", "happiness", "mouthSmileLeft"), ("😝", "happiness", "tongueOut"), ("🫣", "fear", "eyeWideLeft")],
)
def test_an_emoji_or_emoticon_reads_as_the_face_it_shows(model, text, emotion, shape):
    """Emoji alone were refused ("no words in it"), and an emoticon was punctuation."""
    prediction = model.predict(text)
    assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()
    assert prediction.shapes[shape] > 0.3, (shape, prediction.shapes[shape])
    if text != "lol":
        assert "read as" in prediction.notes[0], prediction.notes  # says how the sign was read


def test_describe_and_the_cli_take_an_emoji_alone(capsys):
    from emo_app import services
    from emo_app.cli import main

    result = services.describe("😭", views=("front",), size=64, exports=False)
    assert result.prediction.emotions.dominant() == "sadness" and result.face.images["front"].std() > 5
    assert main(["text", "😂"]) == 0 and "happiness" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "emotion", "typed", "read"),
    [("She is hapy.", "happiness", "hapy", "happy"), ("He is angy.", "anger", "angy", "angry"),
     ("She looks suprised.", "surprise", "suprised", "surprised"),
     ("He is discusted.", "disgust", "discusted", "disgusted"),
     ("He is furius.", "anger", "furius", "furious"),
     ("She is dissapointed.", "sadness", "dissapointed", "disappointed")],
)
def test_a_misspelt_feeling_word_reads_as_the_word_meant(model, text, emotion, typed, read):
    """A typo left a word no rule reads, and MiniLM drew contempt (1.0 for "He is angy.")."""
    prediction = model.predict(text)
    assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()
    assert f"'{typed}' read as '{read}'" in prediction.notes


def test_only_typos_of_words_the_rules_read_are_corrected():
    from emo_app.text.base import read_description

    for text in ("Zoe joined TikTok.", "He is blorf.", "Smeagol grins.", "The Beatles played Hamburg.",
                 "She's repotting the basil on the windowsill."):
        assert read_description(text) == (text, []), text  # names and made-up words stay as typed
    assert read_description("She is verry happy") == ("She is very happy", [("verry", "very")])
    assert read_description("He smilles 😂")[0] == "He smiles laughing so hard"


def test_an_emoticon_inside_a_word_or_link_is_no_face(model):
    from emo_app.text.emoji import emoji_as_words

    for text in ("see http://example.com/a:/b", "a:)b", "x=(1:2)"):
        assert emoji_as_words(text) == (text, []), text
    assert emoji_as_words("🙄🏽 fine 👍")[0] == "rolls the eyes, fine 👍"  # skin tone dropped, 👍 kept
    assert model.predict("🙄").shapes["eyeLookUpLeft"] > 0.4


@pytest.mark.parametrize("bad", ["", "   ", None, 42, "x" * 100_000, "!!! ???"])
def test_bad_text_gives_a_clear_error(model, bad):
    with pytest.raises(InvalidInputError) as info:
        model.predict(bad)
    assert len(str(info.value)) > 20


def test_batch_rejects_a_bare_string_and_empty_list(model):
    with pytest.raises(InvalidInputError):
        model.predict_batch("a smile")
    with pytest.raises(InvalidInputError):
        model.predict_batch([])


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(InvalidInputError, match="embedded"):
        get_text_model("no-such-model")


def test_cli_text_prints_and_writes_the_prediction(model, tmp_path, capsys):
    from emo_app.cli import main

    out = tmp_path / "out.json"
    assert main(["text", "a joyful smile, her left eyebrow raised", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["dominant_emotion"] == "happiness"
    assert data["blendshapes"]["browOuterUpLeft"] > data["blendshapes"]["browOuterUpRight"]
    assert "mouthSmileLeft" in capsys.readouterr().out
    assert main(["text", "   "]) == 2  # empty text: a one-line error, not a traceback


def test_traced_encoder_matches_the_eager_model_for_any_length_and_padding(model):
    """The TorchScript graph traced on one short sentence must serve every input exactly."""
    from emo_app.models import resolve
    from emo_app.text.embedded import MiniLMEncoder

    assert model.encoder._forward is not None  # tracing worked on this torch build
    eager = MiniLMEncoder(str(resolve("minilm")), trace=False)
    texts = ["hi", "She looks slightly surprised, her left eyebrow raised " * 6, "not happy at all"]
    np.testing.assert_allclose(model.encoder.encode(texts), eager.encode(texts), atol=1e-5)
    for text in texts:
        np.testing.assert_allclose(model.encoder.encode([text]), eager.encode([text]), atol=1e-5)


def test_loading_the_encoder_prints_nothing_and_keeps_transformers_settings(capfd):
    """Every CLI call printed transformers' "Loading weights" bar before its answer."""
    from transformers.utils import logging as hf_logging

    from emo_app.models import resolve
    from emo_app.text.embedded import MiniLMEncoder

    before = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    MiniLMEncoder(str(resolve("minilm")), trace=False)
    printed = capfd.readouterr()
    assert "Loading weights" not in printed.err + printed.out
    assert (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()) == before


def test_the_disgust_prior_wrinkles_and_lifts_rather_than_stretches_the_mouth():
    """Disgust's face (Ekman; EMFACS): the nose wrinkle and upper-lip raise with the chin raiser
    pushing the lower lip up and the cheeks raised; nothing that stretches the mouth sideways or
    drops the lower lip and jaw, which is how an angry snarl or a fearful grimace opens it. The
    upper-lip raise is stronger on one side."""
    from emo_app.blendshapes import Blendshapes
    from emo_app.emotion.emotions import EMO3D_EMOTIONS
    from emo_app.text.facs import emotion_prior

    intensities = np.zeros(len(EMO3D_EMOTIONS))
    intensities[EMO3D_EMOTIONS.index("disgust")] = 0.85  # a plain "disgusted" description
    face = Blendshapes.from_array(emotion_prior(intensities).values)
    for side in ("Left", "Right"):
        assert face["noseSneer" + side] > 0.3 and face["mouthUpperUp" + side] > 0.3
        assert face["cheekSquint" + side] > 0.5  # cheeks raised: not anger's glare
        assert face["mouthStretch" + side] == 0.0 and face["mouthLowerDown" + side] < 0.2
    assert face["mouthShrugLower"] > 0.6  # the lower lip pushed up
    assert face["jawOpen"] < 0.1
    assert abs(face["mouthUpperUpRight"] - face["mouthUpperUpLeft"]) > 0.1


@pytest.mark.parametrize(
    ("text", "tongue"),
    [("Blowing a raspberry.", 0.5), ("He gives her a raspberry.", 0.5), ("She licks her lips.", 0.3),
     ("She eats a raspberry.", None), ("He licked the spoon.", None)],
)
def test_a_raspberry_blown_and_lips_licked_show_the_tongue(model, text, tongue):
    """'Blowing a raspberry' was a neutral face with fear's wide eyes (0.36) and 'She licks her
    lips' disgust (0.66); a raspberry eaten or a spoon licked is no movement of the face."""
    shown = model.predict(text).shapes["tongueOut"]
    assert (shown == 0) if tongue is None else (shown >= tongue), (text, shown)


@pytest.mark.parametrize("text", ["A sinister smile.", "An evil laugh.", "A wicked grin."])
def test_a_villains_smile_knits_the_brows_over_it(model, text):
    """The brows of 'A sinister smile' came down 0.55, which the smile's raised cheeks all but
    hid: it read as a friendly smile."""
    shapes = model.predict(text).shapes
    assert shapes["mouthSmileLeft"] > 0.5 and shapes["browDownLeft"] >= 0.8, shapes.to_dict()


@pytest.mark.parametrize(
    "text", ["A villain's smug grin.", "A smug smile.", "He smiles smugly.", "A sarcastic smile.",
             "A wry smile.", "She smiles wryly.", "A sardonic grin."]
)
def test_a_smug_smile_is_one_sided(model, text):
    """Happiness's smile on both sides (0.88 and 0.88) hid contempt's one-sided pull: a smug grin
    read as a friendly one (and a sarcastic smile as a warm one)."""
    shapes = model.predict(text).shapes
    strong, weak = sorted([shapes["mouthSmileLeft"], shapes["mouthSmileRight"]], reverse=True)
    assert strong > 0.5 and weak < 0.5 * strong, shapes.to_dict()


@pytest.mark.parametrize(
    "text", ["He raises an eyebrow.", "He raises one eyebrow.", "He raised an eyebrow at the price."]
)
def test_one_raised_eyebrow_is_a_question_not_a_gasp(model, text):
    """'raises an eyebrow' raised both (0.85 each), and both texts drew MiniLM's surprise: wide
    eyes and an open mouth (jawOpen 0.34) under the brows."""
    shapes = model.predict(text).shapes
    assert shapes["browOuterUpLeft"] > 0.7 and shapes["browOuterUpRight"] < 0.3, shapes.to_dict()
    assert shapes["jawOpen"] < 0.15 and shapes["eyeWideRight"] < 0.2, shapes.to_dict()


@pytest.mark.parametrize(
    ("text", "shape", "least", "was"),
    [
        ("She gives him the side-eye.", "eyeLookOutRight", 0.6, "a neutral face looking ahead"),
        ("A sidelong glance.", "eyeLookOutRight", 0.6, "a neutral face looking ahead"),
        ("Puppy-dog eyes, pleading.", "browInnerUp", 0.7, "contempt 0.80: a smirk under lowered brows"),
        ("Drunk and dizzy.", "eyeBlinkLeft", 0.3, "surprise 0.38: raised brows, eyes open"),
    ],
)
def test_side_eye_puppy_eyes_and_drunk_draw_their_look(model, text, shape, least, was):
    shapes = model.predict(text).shapes
    assert shapes[shape] >= least, (shapes.to_dict(), was)


@pytest.mark.parametrize(
    ("text", "named", "not_this", "was"),
    [
        ("Rage, screaming at the top of his lungs.", "anger", "fear", "fear 0.44: 'Fearfully angry'"),
        ("I am so mad I could scream at that referee.", "anger", "fear", "fear 0.4"),
        ("She screams with delight.", "happiness", "fear", "fear 0.43"),
        ("He shouts happily.", "happiness", "anger", "anger 0.46"),
    ],
)
def test_a_scream_or_a_yell_voices_the_feeling_the_text_names(model, text, named, not_this, was):
    emotions = model.predict(text).emotions
    assert emotions[named] > 0.6 and emotions[not_this] < 0.25, (emotions.to_dict(), was)


def test_a_scream_alone_still_reads_as_fear(model):
    assert model.predict("She screams.").emotions.dominant() == "fear"


@pytest.mark.parametrize(
    ("text", "kept", "was"),
    [
        ("Quietly furious.", "browDownLeft", "anger's open mouth, jawOpen 0.2 and lips apart 0.5"),
        ("She glares at him, seething.", "browDownLeft", "anger's open mouth"),
        ("Trying not to laugh.", "mouthSmileLeft", "a full laugh, jawOpen 0.45"),
        ("She tries not to smile.", "mouthSmileLeft", "a smile with parted lips"),
        ("Furious, with a furrowed brow and lips pressed tight.", "browDownLeft", "lips apart over teeth"),
    ],
)
def test_a_quiet_or_held_back_feeling_keeps_the_mouth_shut(model, text, kept, was):
    shapes = model.predict(text).shapes
    assert shapes[kept] > 0.5, shapes.to_dict()
    assert shapes["jawOpen"] < 0.05 and shapes["mouthLowerDownLeft"] < 0.1, (shapes.to_dict(), was)
    assert shapes["mouthPressLeft"] >= 0.3, shapes.to_dict()


def test_quiet_beside_no_feeling_says_nothing_of_the_face():
    from emo_app.text.cues import analyse

    assert not analyse('"We did everything we could," the surgeon said quietly.').cues


def test_a_trait_word_leaves_a_gape_its_surprise(model):
    """'shy' describes the intern, it names no feeling strongly enough for the gape to voice it."""
    text = "Totally unexpected: the shy intern wins the prize, and he gapes."
    assert model.predict(text).emotions.dominant() == "surprise"


def test_ouch_is_a_pain_face(model):
    """'Ouch!' was a neutral face (no word of it was read)."""
    shapes = model.predict("Ouch!").shapes
    assert shapes["browDownLeft"] > 0.4 and shapes["eyeSquintLeft"] > 0.5, shapes.to_dict()


def test_the_tongue_example_is_playful(model):
    """'playfully' was read as nothing: the Describe example stuck its tongue out with surprise."""
    prediction = model.predict("She sticks her tongue out playfully.")
    assert prediction.emotions.dominant() == "happiness" and prediction.shapes["tongueOut"] > 0.8


@pytest.mark.parametrize(
    ("text", "emotion", "was"),
    [
        ("Eyes wide with wonder.", "surprise", "fear 0.38: 'wonder' read as thinking"),
        ("Stares blankly into space", "neutral", "fear 0.46: wide eyes"),
        ("Face palm.", "anger", "neutral 0.72"),
    ],
)
def test_wonder_blankly_and_a_facepalm_read_as_meant(model, text, emotion, was):
    emotions = model.predict(text).emotions.to_dict()
    name, value = strongest_feeling(emotions)
    top = name if emotion != "neutral" else "neutral"
    assert top == emotion and (emotion != "neutral" or value < 0.2), (emotions, was)


def test_annoyed_but_trying_to_be_polite_smiles_under_lowered_brows(model):
    """Was a full scowl (anger 0.67): the politeness did not show."""
    shapes = model.predict("annoyed but trying to be polite").shapes
    assert shapes["browDownLeft"] > 0.5 and shapes["mouthSmileLeft"] > 0.3, shapes.to_dict()
    assert shapes["cheekSquintLeft"] < 0.25, shapes.to_dict()  # put on: it does not reach the eyes


def test_pursed_lips_stay_shut_and_suspicion_raises_one_brow(model):
    """'Raised eyebrows, pursed lips' parted the lips under surprise's open jaw (0.3); 'Eyes
    narrowed in suspicion' raised no brow: 'suspicion' was read as a feeling, not as a look."""
    pursed = model.predict("Raised eyebrows, pursed lips").shapes
    assert pursed["mouthPucker"] > 0.5 and pursed["jawOpen"] < 0.05, pursed.to_dict()
    suspicious = model.predict("Eyes narrowed in suspicion").shapes
    raised, other = sorted([suspicious["browOuterUpLeft"], suspicious["browOuterUpRight"]], reverse=True)
    assert raised > 0.6 and other < 0.3 and suspicious["eyeSquintLeft"] > 0.5, suspicious.to_dict()


def test_one_corner_of_the_mouth_raised_raises_one_corner(model):
    """'one corner of his mouth raised' lifted both corners (0.6 each): the side was looked for
    just before 'mouth', not before 'corner'."""
    shapes = model.predict("He smirks with one corner of his mouth raised.").shapes
    assert shapes["mouthSmileLeft"] > 0.5 and shapes["mouthSmileRight"] < 0.2, shapes.to_dict()


@pytest.mark.parametrize(
    ("text", "emotion"),
    [("The corners of his mouth turn up.", "happiness"), ("Her mouth turns up at the corners.", "happiness"),
     ("The corners of her mouth turn down.", "sadness")],
)
def test_mouth_corners_turning_up_read_as_a_smile(model, text, emotion):
    """MiniLM does not tell 'up' from 'down': 'The corners of his mouth turn up.' read as sadness
    0.55 and anger 0.51, a smile under a scowl and a frown; a happiness face anchor in those
    words tells them apart."""
    prediction = model.predict(text)
    assert prediction.emotions.dominant() == emotion, prediction.emotions.to_dict()
    if emotion == "happiness":
        assert prediction.shapes["mouthFrownLeft"] < 0.2 and prediction.shapes["browDownLeft"] < 0.2


def test_why_a_shut_mouth_is_shut_names_the_cue(model):
    """The 'Why each shape moved' table said 'negated in the text' for the jaw of 'Quietly
    furious', which negates nothing."""
    why = [reason for reason, _ in model.predict("Quietly furious").explanation["jawOpen"]]
    assert why[-1] == "cue: 'quietly' keeps it shut" and not any("negated" in r for r in why), why
