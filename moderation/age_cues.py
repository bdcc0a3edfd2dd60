"""Signs in a chat message that the person writing is a minor (CN-MIN-05). Pure and fast.

`age_cues(text)` reads one user message and returns what it suggests, privacy-preserving by
construction: a cue kind, a weight and, where the message says it, an age — never the words
themselves, which stay with the message. Nobody reads the messages to decide: the chat path adds
the weights up (accounts.minor_mode) and switches minor mode on at 1.0.

- A first-person statement of an age under 18 ("我才13岁", "I'm 13", "I am 15 years old") or of a
  school year ("我今年初二", "I'm in 8th grade", "a freshman in high school") weighs 1.0: one
  such statement switches. Ages from 18 up, other people's ages ("我儿子今年13岁", "my sister is
  13"), the past ("我13岁的时候", "when I was 13"), durations ("I'm 13 minutes late") and
  counts ("13 years old" without "I") do not count.
- Saying one is under age without a number ("我还没成年", "I'm underage") weighs 1.0.
- School-schedule talk ("放学", "班主任", "月考", "homework", "recess") weighs 0.25: several
  messages of it over the window add up, one never does.
Staff and the classifier's own categories are unaffected; this runs on the normalised text
(moderation.normalise: lower case, simplified, half-width).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from moderation.normalise import normalise

STRONG = 1.0
WEAK = 0.25
MIN_AGE, ADULT_AGE = 5, 18

_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _zh_number(word: str) -> int | None:
    """"13", "十三", "十", "九" → int; anything else → None."""
    if word.isdigit():
        return int(word)
    if word == "十":
        return 10
    if word.startswith("十") and len(word) == 2 and word[1] in _ZH_DIGITS:
        return 10 + _ZH_DIGITS[word[1]]
    if len(word) == 1 and word in _ZH_DIGITS:
        return _ZH_DIGITS[word]
    return None


# School years and the usual age in them (China: 小学 six years from about 6, 初中 12-14, 高中 15-17).
_ZH_GRADES = {"初一": 12, "初二": 13, "初三": 14, "高一": 15, "高二": 16, "高三": 17, "小学": 10, "初中": 13,
              "一年级": 6, "二年级": 7, "三年级": 8, "四年级": 9, "五年级": 10, "六年级": 11}
_ZH_SELF = r"(?:我|本人|俺)"
_ZH_NOW = r"(?:今年|现在|目前|才|只有|刚|刚满|还|已经|是|都)*"
_ZH_PAST = r"(?!的时候|那年|时|那会|以前|之前)"
_ZH_AGE = re.compile(_ZH_SELF + _ZH_NOW + r"(\d{1,2}|十[一二三四五六七八九]?|[一二两三四五六七八九])(?:周)?岁" + _ZH_PAST)
_ZH_GRADE = re.compile(_ZH_SELF + _ZH_NOW + r"(?:在|上|读|念)?(" + "|".join(_ZH_GRADES) + r")(?:了)?"
                       + r"(?:的)?(?:学生)?" + _ZH_PAST)
_ZH_UNDERAGE = re.compile(_ZH_SELF + _ZH_NOW + r"(?:未成年|没成年|没有成年|不满(?:18|十八)岁|是(?:个)?(?:小学生|初中生|中学生|高中生))")
_ZH_SCHOOL = ("放学", "班主任", "月考", "期中考试", "期末考试", "中考", "写作业", "晚自习", "课间", "家长会")

_EN_SELF = r"\b(?:i'?m|i am|im)\s+(?:only\s+|just\s+|now\s+|still\s+)?"
_EN_AGE = re.compile(_EN_SELF + r"(\d{1,2})(?:\s*(?:years?|yrs?)\s*old|\s*y/?o\b|(?=\s*(?:[.!?,;:)]|$|now\b|btw\b|and\b|so\b|lol\b)))")
_EN_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)"
_EN_GRADE = re.compile(_EN_SELF + r"(?:in\s+)?(?:(?:the|a)\s+)?(?:" + _EN_ORDINAL + r"\s+grade(?:r)?|grade\s+(\d{1,2})\b"
                       r"|(freshman|sophomore|junior)\s+in\s+high\s+school|in\s+(middle|elementary|primary)\s+school"
                       r"|(middle|high)\s+schooler)")
_EN_UNDERAGE = re.compile(_EN_SELF + r"(?:underage|under\s*age|a\s+minor\b|not\s+18\s+yet|under\s+18)")
_EN_SCHOOL = ("homework", "recess", "homeroom", "my teacher", "after school", "study hall", "report card",
              "school bus", "detention")
_EN_SCHOOL_AGES = {"freshman": 14, "sophomore": 15, "junior": 16, "middle": 12, "elementary": 9, "primary": 9,
                   "high": 15}


@dataclass(frozen=True)
class AgeCue:
    kind: str  # `stated_age`, `school_year`, `underage`, `school_talk`
    weight: float
    age: int | None = None  # the age the message states or the school year suggests


def _minor_age(age: int | None) -> bool:
    return age is not None and MIN_AGE <= age < ADULT_AGE


def age_cues(text: str) -> AgeCue | None:
    """The strongest sign of a minor in one message, or None."""
    flat = normalise(text or "")
    for match in _ZH_AGE.finditer(flat):
        age = _zh_number(match.group(1))
        if _minor_age(age):
            return AgeCue("stated_age", STRONG, age)
    for match in _EN_AGE.finditer(flat):
        age = int(match.group(1))
        if _minor_age(age):
            return AgeCue("stated_age", STRONG, age)
    if (match := _ZH_GRADE.search(flat)) is not None:
        return AgeCue("school_year", STRONG, _ZH_GRADES[match.group(1)])
    if (match := _EN_GRADE.search(flat)) is not None:
        grade = match.group(1) or match.group(2)
        if grade is not None:
            if 1 <= int(grade) <= 12:
                return AgeCue("school_year", STRONG, int(grade) + 5)
        else:
            word = match.group(3) or match.group(4) or match.group(5)
            return AgeCue("school_year", STRONG, _EN_SCHOOL_AGES[word])
    if _ZH_UNDERAGE.search(flat) or _EN_UNDERAGE.search(flat):
        return AgeCue("underage", STRONG)
    if any(word in flat for word in _ZH_SCHOOL) or any(re.search(rf"\b{word}\b", flat) for word in _EN_SCHOOL):
        return AgeCue("school_talk", WEAK)
    return None
