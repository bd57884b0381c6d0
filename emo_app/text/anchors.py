"""Emotion anchor descriptions (written for this project): the embedded model scores a text by
its MiniLM similarity to these. Several per emotion, in the register of face descriptions
(Emo3D's texts describe a person's face), so similarity reflects the emotion, not the style."""

from __future__ import annotations

EMOTION_ANCHORS: dict[str, tuple[str, ...]] = {
    "neutral": (
        "A person with a neutral, expressionless face.",
        "Her face is calm and relaxed, showing no particular emotion.",
        "He looks straight ahead with a blank, composed expression.",
        "A plain face at rest, mouth closed, eyes open normally.",
        "An impassive, indifferent look without any feeling.",
    ),
    "happiness": (
        "A joyful person with a big happy smile.",
        "Her face lights up with delight, cheeks raised and eyes crinkling.",
        "He is laughing cheerfully, radiating happiness.",
        "A warm, pleased smile of contentment.",
        "The person has a broad grin and eyes alight with cheer.",
        "An ecstatic, elated expression full of joy.",
    ),
    "surprise": (
        "A surprised face with raised eyebrows and a mouth hanging open.",
        "Her eyes are wide in astonishment and her jaw has dropped.",
        "He looks amazed and startled, brows lifted high.",
        "An expression of sudden shock and disbelief.",
        "Stunned and taken aback by something unexpected.",
    ),
    "sadness": (
        "A sad face with downturned lips and drooping eyes.",
        "She looks sorrowful, tears in her eyes, inner brows raised.",
        "He is grieving, with a heartbroken, despairing expression.",
        "A gloomy, dejected look of deep unhappiness.",
        "The corners of her mouth sag as she is about to cry.",
    ),
    "anger": (
        "An angry face with furrowed brows and a glaring stare.",
        "He is furious, jaw clenched and lips pressed tightly together.",
        "She scowls with rage, nostrils flared and eyes narrowed.",
        "A hostile, irritated expression, ready to shout.",
        "His face is red with fury and his teeth are bared.",
    ),
    "disgust": (
        "A disgusted face with a wrinkled nose and a raised upper lip.",
        "She recoils in revulsion from a foul smell.",
        "He looks repulsed and nauseated, as if tasting something rotten.",
        "An expression of distaste, nose scrunched and lip curled.",
        "Grossed out and revolted by something vile.",
    ),
    "fear": (
        "A frightened face with wide eyes and a stretched, tense mouth.",
        "She is terrified, eyebrows raised and drawn together in panic.",
        "He looks scared and anxious, as if something dangerous is coming.",
        "An expression of terror and dread, trembling with fright.",
        "Afraid and alarmed, eyes wide open with horror.",
    ),
    "contempt": (
        "A contemptuous face with a one-sided smirk.",
        "She looks down on him with disdain, one corner of her lip raised.",
        "He sneers with scorn and rolls his eyes.",
        "A condescending, superior expression of mockery.",
        "A smug, dismissive look that shows no respect.",
    ),
}
