"""Text normalisation for screening: undo the tricks people use (knowingly or not) that hide risk
words from a matcher (CN-CRI-01). Pure and fast: every table and regex is built at import, the
OpenCC converter once per process.

`normalise(text)` returns a lower-case, simplified-Chinese, half-width string in which
- full-width forms, ligatures and compatibility characters are folded (NFKC), case is folded;
- invisible characters (zero-width spaces, joiners, soft hyphens, BOM) are removed;
- traditional characters become simplified (OpenCC `t2s`), and variant 帐 becomes 账;
- Cyrillic/Greek look-alikes become Latin, leetspeak digits inside words become letters
  ("5u1c1de" → "suicide", "k1ll" → "kill", "@" → "a");
- spaced-out letters and characters are joined ("k i l l  m y s e l f", "s.u.i.c.i.d.e",
  "自 杀", "自*杀");
- common pinyin and slang for self-harm ("zisha", "zs", "qingsheng", "tiaolou", "gewan",
  "unalive", "kms", "kys", "sewerslide") become the words they stand for;
- risk emoji (🔪💊🪢🩸🔫⚰️) become bracketed tokens such as ``[knife]`` so the classifier can use
  them as extra signals next to risk words, never on their own.
The original text stays in `ScreeningInput.text`; matching runs on the normalised form.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_CONVERTER = opencc.OpenCC("t2s")
# Simplified variants OpenCC keeps apart that scam scripts use interchangeably ("帐户"/"账户").
_VARIANTS = str.maketrans({"帐": "账"})

_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                        r"\u2060-\u2064\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")

# Look-alikes that NFKC leaves alone. Cyrillic and Greek letters that render like Latin ones.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ʟ": "l",
    "ӏ": "l", "ԛ": "q", "ԝ": "w", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ѵ": "v",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k",
    "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"', "„": '"',
})

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i",
                       "|": "l", "+": "t"})
# A token mixing letters with leet symbols (at least one letter, at least one symbol inside or at an edge).
_LEET_TOKEN = re.compile(r"(?<![\w@$!|+])(?=[\w@$!|+]*[a-z])(?=[\w@$!|+]*[013457@$|+])[a-z013457@$!|+]{3,}(?![\w@$|+])")

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
# Separators put between single characters to break up a word: spaces, dots, dashes, stars ...
_SEP = r"[\s.\-_*·•~/\\|^+=,]+"
# Two or more single Latin letters separated by separators ("k i l l", "s.u.i.c.i.d.e").
# The same separator must repeat, so "k i l l  m y s e l f" splits at the double space into "kill myself"
# and "s.u.i.c.i.d.e a lot" stops before " a".
_SPACED_LETTERS = re.compile(rf"(?<![a-z0-9'])[a-z](?P<sep>{_SEP})[a-z](?![a-z0-9'])(?:(?P=sep)[a-z](?![a-z0-9']))*")
_SEP_ONLY = re.compile(_SEP)
# A separator between two CJK characters ("自 杀", "自.杀", "想 死"). Chinese text has no spaces.
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[\s.\-_*·•~/\\|^+=']+(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")

# Words that the joined letters hide; split back so word patterns match ("killmyself" → "kill myself").
_COMPACT = {
    "killmyself": "kill myself", "killingmyself": "killing myself", "endmylife": "end my life",
    "endit": "end it", "endingit": "ending it", "iwanttodie": "i want to die", "wanttodie": "want to die",
    "hurtmyself": "hurt myself", "cutmyself": "cut myself", "killyourself": "kill yourself",
    "iwant": "i want", "iwanna": "i wanna", "unaliveme": "kill me", "unalivemyself": "kill myself", "dieinmysleep": "die in my sleep",
}
_COMPACT_RE = re.compile("|".join(sorted(map(re.escape, _COMPACT), key=len, reverse=True)))

# Pinyin and online euphemisms that stand for risk words. Whole tokens only.
_SLANG = {
    r"zi ?sha|zisa": "自杀", r"zs": "自杀", r"qing ?sheng": "轻生", r"tiao ?lou": "跳楼", r"ge ?wan": "割腕",
    r"shang ?diao": "上吊", r"zi ?can": "自残", r"bu ?xiang ?huo( ?le)?": "不想活了", r"wo ?xiang ?si": "我想死",
    r"an ?mian ?yao": "安眠药", r"tiao ?he": "跳河", r"shao ?tan": "烧炭",
    r"unalive (myself|me)": "kill myself", r"unaliving (myself|me)": "killing myself", r"unalive": "kill",
    r"self[- ]?delete|self[- ]?deleting": "kill myself", r"sewer ?slide|sewerslide|sui(?:c|k)ide": "suicide",
    r"kms": "kill myself", r"kys": "kill yourself", r"ctb": "kill myself",
}
_SLANG_RE = re.compile("|".join(f"(?<![a-z])(?:{k})(?![a-z])" for k in _SLANG))
_SLANG_LOOKUP = [(re.compile(f"(?:{k})"), v) for k, v in _SLANG.items()]

_EMOJI = {
    "🔪": " [knife] ", "🗡": " [knife] ", "💊": " [pills] ", "🪢": " [rope] ", "🩸": " [blood] ", "🔫": " [gun] ",
    "⚰": " [coffin] ", "🪦": " [coffin] ", "☠": " [coffin] ", "🌉": " [bridge] ", "🏢": " [building] ",
}
_EMOJI_TABLE = str.maketrans(_EMOJI)


def _slang(match: re.Match) -> str:
    token = match.group(0)
    for pattern, word in _SLANG_LOOKUP:
        if pattern.fullmatch(token):
            return word
    return token


def _join_letters(match: re.Match) -> str:
    joined = _SEP_ONLY.sub("", match.group(0))
    return " " + _COMPACT_RE.sub(lambda m: _COMPACT[m.group(0)], joined) + " "


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """The matching form of `text` (see the module docstring). Cached: chat history is re-screened."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _INVISIBLE.sub("", text).translate(_HOMOGLYPHS)
    if not text.isascii():
        text = _CONVERTER.convert(text.translate(_EMOJI_TABLE)).translate(_VARIANTS)
    text = _LEET_TOKEN.sub(lambda m: m.group(0).translate(_LEET), text)
    text = _SPACED_LETTERS.sub(_join_letters, text)
    text = _SLANG_RE.sub(_slang, text)
    if not text.isascii():
        text = _CJK_GAP.sub("", text)
    return _SPACES.sub(" ", text).strip()
