"""Example descriptions: one per basic emotion, a few compounds, a one-sided cue, a direction
for the face (gaze and one brow; the tongue; the head), a change of feeling (the still shows the
last; *Play it* plays both), states the 8 emotions do not name,
situations that name no feeling, spoken lines and a neutral face. The Describe tab offers them
and the memory benchmark cycles through them."""

EXAMPLE_DESCRIPTIONS: tuple[str, ...] = (
    "A broad grin with eyes alight with cheer.",
    "She looks heartbroken, eyes downcast and lips trembling.",
    "Furious, with a furrowed brow and lips pressed tight.",
    "Wide eyes and a mouth agape in sheer surprise.",
    "He wrinkles his nose in disgust at the smell.",
    "Terrified, eyes wide and the mouth stretched in fear.",
    "A smug, one-sided smirk of contempt.",
    "Happily surprised, laughing with raised eyebrows.",
    "A bittersweet smile with teary eyes.",
    "Sadly angry: a scowl with the corners of the mouth turned down.",
    "Her left eyebrow is raised in doubt.",
    "He raises one eyebrow and glances to the left.",
    "She sticks her tongue out playfully.",
    "Ashamed, he hangs his head.",
    "Shocked at first, then delighted.",
    "Puzzled by the question.",
    "Exhausted after a sleepless night.",
    "My phone was stolen on the train.",
    "My grandfather passed away last week.",
    '"Watch out, it\'s right behind you!"',
    '"You call that a sword?"',
    "A calm, neutral expression.",
)
