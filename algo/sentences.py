"""Built-in sentences, for runs without GLUE data: calibration, the demo, RTL stimulus.

Two disjoint sets, so that a model calibrated on one is evaluated on the other.
"""

# Calibration of static activation scales when no GLUE train split is at hand.
CALIBRATION_SENTENCES = (
    "the film is a charming, funny and moving portrait of a family.",
    "a dull, lifeless movie that never finds its footing.",
    "the performances are strong but the script lets everyone down.",
    "it's a smart, well-crafted thriller with a terrific final act.",
    "i could not wait for it to end.",
    "an ambitious failure, yet oddly compelling from start to finish.",
    "the kitchen was closed when we arrived, so we ate at the station.",
    "researchers measured the latency of the accelerator on sequences of many lengths.",
    "Quantization maps real numbers to integers with a scale.",
    "What time does the next train to the airport leave?",
    "He said the results were encouraging, although more work is needed.",
    "a masterpiece.",
)

# Evaluation and demo sentences: movie-review style, 1 to ~70 tokens, so that length
# buckets and length-adaptive execution have something to show.
DEMO_SENTENCES = (
    'A gripping film.',
    'Dull.',
    'The acting is wooden and the plot goes nowhere.',
    'I laughed, I cried, and I went back to see it again the next day.',
    'An utterly forgettable sequel.',
    "It's a charming, low-key comedy that never overstays its welcome.",
    'The director has a good eye, but the script gives the actors nothing to do for two long hours.',
    'Brilliant!',
    'A thoughtful, beautifully photographed meditation on memory, loss and the stubborn persistence of hope in a small coastal town that time seems to have forgotten.',
    'Not worth the price of admission.',
    'The soundtrack alone is reason enough to buy a ticket.',
    'Overlong, overwrought and, in the end, strangely hollow, the film mistakes volume for emotion and spectacle for meaning, leaving its talented cast stranded in a story that never finds its footing.',
    'Funny and warm.',
    'What begins as a clever heist thriller slowly turns into a tedious lecture.',
    'The children in the audience loved every minute of it.',
    'A mess.',
    'Every frame of this documentary is packed with curiosity, and its subjects, ordinary people doing extraordinary work, are treated with respect rather than pity.',
    'Strong performances cannot rescue a screenplay this thin.',
    'I would happily watch it a third time.',
    'The first hour is promising; the second hour is a slog through clichés that the film seems to think are fresh, and by the finale I had stopped caring who survived.',
    'Smart, sharp and surprisingly moving.',
    'Skip it.',
    'A rare sequel that improves on the original in almost every way, from its tighter pacing to its richer characters and its genuinely surprising final act.',
    'The jokes land about half the time.',
    'It is the kind of movie that reminds you why you fell in love with cinema in the first place: generous, inventive, and full of life, with a heart as big as its ambitions and a cast that clearly had the time of their lives making it.',
    'Predictable but pleasant.',
    'The special effects look cheap.',
    'An instant classic.',
)
