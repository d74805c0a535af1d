"""The fictional world's phrasings: how a passage states a fact, the generic sentences around it, how a question asks.

`data.world` fills these templates with its invented entities; they are kept apart from it because they are data,
not logic. Changing one changes every generated passage or question that uses it (and so the bundled files).
"""

from __future__ import annotations

# One passage per (kind, fact): its first sentence is one of these. `{name}` is the entity, the rest its facts.
PASSAGE_TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("person", "born_in"): [
        "{name} was born in {born_in}.",
        "{name} grew up in {born_in}, the city of their birth, and left it as a young adult.",
        "Records of {born_in} list {name} among the children born there.",
    ],
    ("person", "born"): [
        "{name} was born in {born}.",
        "Born in {born}, {name} was the eldest of four children.",
        "The year of {name}'s birth is recorded as {born}.",
    ],
    ("person", "studied_at"): [
        "{name} studied at {studied_at}.",
        "After school, {name} enrolled at {studied_at}, where they spent five years.",
        "{studied_at} counts {name} among its best-known former students.",
    ],
    ("person", "occupation"): [
        "{name} worked as a {occupation}.",
        "By profession {name} was a {occupation}, and was respected by peers.",
        "{name} is remembered mainly as a {occupation}.",
    ],
    ("company", "founder"): [
        "{name} was founded by {founder}.",
        "{founder} established {name} with a small loan from a relative.",
        "The founder of {name} was {founder}, who ran it for decades.",
    ],
    ("company", "hq"): [
        "{name} is headquartered in {hq}.",
        "The head office of {name} stands in {hq}.",
        "{name}, a maker of {industry}, has its headquarters in {hq}.",
    ],
    ("company", "founded"): [
        "{name} was founded in {founded}.",
        "Since its founding in {founded}, {name} has worked in {industry}.",
        "{name} opened its doors in {founded}.",
    ],
    ("invention", "inventor"): [
        "{name} was invented by {inventor}.",
        "{inventor} designed {name} after years of failed prototypes.",
        "The inventor of {name} was {inventor}.",
    ],
    ("invention", "year"): [
        "{name} was first demonstrated in {year}.",
        "In {year}, {name} was shown to the public for the first time.",
        "The first working {title} dates from {year}.",
    ],
    ("invention", "maker"): [
        "{name} was manufactured by {maker}.",
        "For many years {maker} built {name} under licence.",
    ],
    ("city", "country"): [
        "{name} is a city in {country}.",
        "{name} lies in the north of {country}.",
        "The city of {name} belongs to {country}.",
    ],
    ("city", "river"): [
        "{river} flows through {name}.",
        "{name} was built on the banks of {river}.",
        "Boats on {river} have carried goods through {name} for centuries.",
    ],
    ("city", "founded"): ["{name} was founded in {founded}.", "Settlers founded {name} in {founded}."],
    ("river", "sea"): [
        "{name} flows into {sea}.",
        "{name} empties into {sea} after a long descent.",
        "The mouth of {name} opens onto {sea}.",
    ],
    ("river", "length"): [
        "{name} is {length} kilometres long.",
        "Measured from source to mouth, {name} runs {length} kilometres.",
    ],
    ("university", "city"): ["{name} is located in {city}.", "{name} has its main campus in {city}."],
    ("university", "founded"): ["{name} was founded in {founded}.", "{name} admitted its first students in {founded}."],
    ("mountain", "country"): [
        "{name} is a mountain in {country}.",
        "{name} rises in the highlands of {country}.",
    ],
    ("mountain", "height"): [
        "{name} is {height} metres high.",
        "The summit of {name} reaches {height} metres above sea level.",
    ],
    ("mountain", "first_climber"): [
        "{first_climber} was the first to reach the summit of {name}.",
        "The first ascent of {name} was made by {first_climber}.",
    ],
    ("mountain", "climbed"): [
        "{name} was first climbed in {climbed}.",
        "The first ascent of {name} took place in {climbed}.",
    ],
    ("band", "formed_in"): [
        "{name} formed in {formed_in}.",
        "{name} is a band from {formed_in}.",
        "Four friends from {formed_in} started {name}.",
    ],
    ("band", "formed"): ["{name} formed in {formed}.", "{name} played their first concert in {formed}."],
    ("band", "singer"): ["The lead singer of {name} was {singer}.", "{singer} sang lead vocals for {name}."],
    ("album", "band"): ["{name} is an album by {band}.", "{band} recorded {name} in a single summer."],
    ("album", "released"): ["{name} was released in {released}.", "{name} came out in {released}."],
}

# Sentences that follow a fact and state nothing asked about: passages read like encyclopedia entries.
COLOUR_SENTENCES: dict[str, list[str]] = {
    "person": [
        "Colleagues remembered {short} as patient and exacting.",
        "Many of {short}'s letters survive in private collections.",
        "{short} travelled widely and kept careful notebooks.",
    ],
    "company": [
        "It employed several hundred workers at its peak.",
        "Its products were sold across the region.",
        "The firm was known for its careful apprentices.",
    ],
    "invention": [
        "Early versions were heavy and unreliable.",
        "Later models were smaller and cheaper.",
        "A working example is kept in a museum.",
    ],
    "city": [
        "Its old town is known for narrow streets and covered markets.",
        "The city holds a lantern festival every autumn.",
        "Many of its houses are built of grey stone.",
    ],
    "river": [
        "Its upper course is narrow and fast.",
        "Fishing villages line its lower banks.",
        "It floods in most springs.",
    ],
    "university": [
        "Its library holds many rare manuscripts.",
        "It is known for its botanical garden.",
        "Its students wear green gowns on feast days.",
    ],
    "mountain": [
        "Its summit is covered in snow for most of the year.",
        "Shepherds graze their flocks on its lower slopes.",
        "Its north face is feared by climbers.",
    ],
    "band": [
        "Their concerts were known for long improvised passages.",
        "Critics praised their harmonies.",
        "They toured small towns for years before their first success.",
    ],
    "album": [
        "It was recorded in a converted barn.",
        "Its cover shows a lighthouse at dusk.",
        "Critics called it their most personal record.",
    ],
}

# Single-hop question templates per (kind, fact).
QUESTION_TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("person", "born_in"): ["In which city was {name} born?", "Where was {name} born?", "What is {name}'s birthplace?"],
    ("person", "born"): ["In what year was {name} born?", "When was {name} born?"],
    ("person", "studied_at"): ["Which university did {name} attend?", "Where did {name} study?"],
    ("person", "occupation"): ["What was {name}'s profession?", "What did {name} work as?"],
    ("company", "founder"): ["Who founded {name}?", "Who was the founder of {name}?"],
    ("company", "hq"): ["Where is {name} headquartered?", "In which city is the head office of {name}?"],
    ("company", "founded"): ["In what year was {name} founded?", "When was {name} founded?"],
    ("invention", "inventor"): ["Who invented {name}?", "Who was the inventor of {name}?"],
    ("invention", "year"): ["In which year was {name} first demonstrated?", "When was {name} first shown?"],
    ("invention", "maker"): ["Which company manufactured {name}?", "Which company built {name}?"],
    ("city", "country"): ["In which country is {name}?", "Which country does {name} belong to?"],
    ("city", "river"): ["Which river flows through {name}?", "On which river does {name} lie?"],
    ("city", "founded"): ["In what year was {name} founded?", "When was {name} founded?"],
    ("river", "sea"): ["Into which sea does {name} flow?", "Where does {name} end?"],
    ("river", "length"): ["How many kilometres long is {name}?", "How long is {name}?"],
    ("university", "city"): ["In which city is {name} located?", "Where is {name}?"],
    ("university", "founded"): ["In what year was {name} founded?", "When did {name} open?"],
    ("mountain", "country"): ["In which country is {name}?", "Which country is {name} in?"],
    ("mountain", "height"): ["How high is {name}?", "What is the height of {name} in metres?"],
    ("mountain", "first_climber"): ["Who first climbed {name}?", "Who was the first to reach the summit of {name}?"],
    ("mountain", "climbed"): ["In what year was {name} first climbed?", "When was {name} first climbed?"],
    ("band", "formed_in"): ["In which city did {name} form?", "Where are {name} from?"],
    ("band", "formed"): ["In what year did {name} form?", "When did {name} start playing?"],
    ("band", "singer"): ["Who was the lead singer of {name}?", "Who sang lead vocals for {name}?"],
    ("album", "band"): ["Which band recorded the album {name}?", "Who released the album {name}?"],
    ("album", "released"): ["In what year was the album {name} released?", "When did the album {name} come out?"],
}

# Two-hop bridge templates: (kind, first fact, which names the bridge entity, the bridge's fact, template).
BRIDGE_TEMPLATES = [
    ("company", "founder", "born_in", "In which city was the founder of {name} born?"),
    ("company", "founder", "studied_at", "Which university did the founder of {name} attend?"),
    ("company", "hq", "country", "In which country is the headquarters of {name}?"),
    ("invention", "inventor", "born", "In what year was the inventor of {name} born?"),
    ("person", "born_in", "river", "Which river flows through the birthplace of {name}?"),
    ("mountain", "first_climber", "occupation", "What was the profession of the first climber of {name}?"),
    ("band", "singer", "born_in", "Where was the lead singer of {name} born?"),
    ("album", "band", "formed_in", "In which city did the band that recorded {name} form?"),
]
