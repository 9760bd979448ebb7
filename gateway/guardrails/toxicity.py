"""Offline toxicity scoring: a weighted EN+TR lexicon behind a 0..1 score and a threshold.

Each lexicon entry has a weight (a mild insult ~0.45, strong profanity ~0.8, a threat or an
encouragement to self-harm ~0.95). Insults aimed at the reader ("you are an idiot", "aptalsın",
"sen bir salaksın") get ``SECOND_PERSON_BOOST``. Matches combine as a noisy-or,
``1 − Π(1 − wᵢ)``, so several mild insults add up while one "damn" stays low. The policy's
``toxicity.threshold`` (default 0.7) decides; ``score`` is what the benchmark and flags report.

Terms are matched on folded text (see :mod:`gateway.guardrails.normalize`) unless marked ``exact``:
those need their Turkish letters because the folded form is an innocent word ("piç" vs "pic",
"göt" vs "götür", "amına" vs "amin").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.guardrails.normalize import fold, turkish_lower

SECOND_PERSON_BOOST = 0.25
_YOU_BEFORE = re.compile(r"\b(?:you|u|your|ur|yours|sen|siz|seni|sizi|senin|sizin)\b[^.!?\n]{0,20}$")
_YOU_AFTER = re.compile(r"^[^.!?\n]{0,8}\b(?:you|u|off)\b")
_TR_2P_SUFFIX = re.compile(r"(?:s[iu]n|s[iu]n[iu]z|sin|sun)$")


@dataclass(frozen=True, slots=True)
class Term:
    regex: str
    weight: float
    category: str
    exact: bool = False  # match on lower-cased text with Turkish letters kept


LEXICON: tuple[Term, ...] = (
    # English: insults
    Term(r"\b(?:idiot\w*|moron\w*|imbecile\w*|cretin\w*|dimwit\w*|halfwit\w*|nitwit\w*)", 0.5, "insult"),
    Term(
        r"\b(?:stupid|dumb|dumbass|brainless|pathetic|worthless|loser\w*|scumbag\w*|scum|jerk\w*|clown)\b",
        0.4,
        "insult",
    ),
    Term(r"\b(?:fool|fools|ignorant)\b", 0.3, "insult"),
    Term(r"\b(?:retard\w*|subhuman\w*)", 0.8, "hate"),
    Term(r"\b(?:faggot\w*|n[i1!]gg(?:er|a)\w*|tranny)\b", 0.95, "hate"),
    # English: profanity
    Term(r"\b(?:f+u+c+k+\w*|f[*@#]+c?k\w*|fck\w*|fuk\w*|wtf)\b", 0.6, "profanity"),
    Term(r"\bmotherf\w*", 0.85, "profanity"),
    Term(r"\b(?:bitch\w*|bastard\w*|wanker\w*|twat\w*|dickhead\w*|douchebag\w*)", 0.7, "profanity"),
    Term(r"\b(?:asshole\w*|arsehole\w*|cunt\w*)", 0.8, "profanity"),
    Term(r"\b(?:shit\w*|bullshit|piss off|screw you)\b", 0.45, "profanity"),
    Term(r"\b(?:crap|crappy|damn|dammit|hell no)\b", 0.2, "profanity"),
    # English: threats and self-harm encouragement
    Term(
        r"\bi(?: will|'ll|ll| am going to| am gonna| gonna| want to| wanna)? (?:kill|murder|hurt|stab|shoot|beat|rape|"
        r"strangle|destroy|find) you\b",
        0.95,
        "threat",
    ),
    Term(r"\byou(?:'re| are) (?:dead|going to die|gonna die)\b|\bi know where you live\b", 0.9, "threat"),
    Term(
        r"\b(?:kill yourself|kys|go die|you should die|end your (?:own )?life|nobody would miss you|"
        r"the world would be better without you)\b",
        0.95,
        "self_harm",
    ),
    # Turkish: insults
    Term(r"\b(?:aptal|salak|ahmak|ezik|pislik|hayvan herif)\w*", 0.45, "insult"),
    Term(r"\b(?:gerizekali|beyinsiz|dangalak|embesil|andaval|mal misin|haysiyetsiz|karaktersiz)\w*", 0.6, "insult"),
    Term(r"\b(?:serefsiz|yavsak|kahpe|kaltak|surtuk|pezevenk|it oglu it)\w*", 0.75, "insult"),
    Term(r"\bibne\w*", 0.85, "hate"),
    # Turkish: profanity
    Term(
        r"\b(?:siktir\w*|hassiktir\w*|sik(?:eyim|erim|tir|tigim\w*|im|ini|mek)\b|sikik\w*|amk\b|aq\b)", 0.8, "profanity"
    ),
    Term(r"\b(?:orospu\w*|yarrak\w*|yarak\b|amina koy\w*|ananı|anani sik\w*)", 0.85, "profanity"),
    Term(r"\b(?:piç\w*|amına\b|göt\b|götveren\w*|götlek\w*)", 0.7, "profanity", exact=True),
    Term(r"\b(?:lan|ulan)\b", 0.15, "profanity"),
    # Turkish: threats and self-harm encouragement
    Term(
        r"\b(?:seni|sizi|onu) (?:oldurecegim|oldururum|oldurecegiz|gebertecegim|gebertirim|kesecegim|keserim|"
        r"vuracagim|vururum|bulacagim)\b",
        0.95,
        "threat",
    ),
    Term(r"\b(?:oldurecegim|gebertecegim|evini biliyorum)\b", 0.8, "threat"),
    Term(r"\b(?:geber|gebersin|geber git)\b", 0.85, "threat"),
    Term(
        r"\b(?:kendini oldur|kendini as|intihar et|intihar etsene|intihar etmelisin|olsen de kurtulsak)\b",
        0.95,
        "self_harm",
    ),
    Term(r"\bgit öl\b|\bölsen de\b", 0.9, "self_harm", exact=True),
)


@dataclass(frozen=True, slots=True)
class ToxicityResult:
    score: float
    categories: tuple[str, ...]


class ToxicityScorer:
    def __init__(self, lexicon: tuple[Term, ...] = LEXICON) -> None:
        self._folded = [(re.compile(t.regex), t) for t in lexicon if not t.exact]
        self._exact = [(re.compile(t.regex), t) for t in lexicon if t.exact]

    def score(self, text: str, *, context: str = "") -> ToxicityResult:
        """Score ``text``; ``context`` (a stream's already released tail) is read for phrases that
        straddle the boundary, but matches that lie wholly inside it are not counted again."""
        keep = 1.0
        categories: list[str] = []
        for form, rules in ((fold, self._folded), (turkish_lower, self._exact)):
            haystack = form(context + text) if context else form(text)
            boundary = len(form(context)) if context else 0
            for regex, term in rules:
                for match in regex.finditer(haystack):
                    if match.end() <= boundary:
                        continue
                    weight = term.weight
                    if term.category == "insult" or term.category == "profanity":
                        before = haystack[max(0, match.start() - 30) : match.start()]
                        after = haystack[match.end() : match.end() + 12]
                        if (
                            _YOU_BEFORE.search(before)
                            or _YOU_AFTER.search(after)
                            or _TR_2P_SUFFIX.search(match.group(0))
                        ):
                            weight = min(1.0, weight + SECOND_PERSON_BOOST)
                    keep *= 1.0 - weight
                    categories.append(term.category)
        return ToxicityResult(round(1.0 - keep, 4), tuple(dict.fromkeys(categories)))
