"""The built-in offline risk classifier (CN-CRI-01): weighted rules over normalised text, zh and en.

Method (docs/safety.md has the full account and the evaluation figures):

1. The text is normalised (moderation/normalise.py) and benign idioms are masked first, so
   "笑死我了", "累死了", "杀青", "kill the process", "this exam is killing me" or "I could kill for a
   pizza" never reach the risk rules.
2. The text is cut into clauses. Each rule is a regular expression for one *signal*; a match
   counts unless it is negated ("I don't want to die", "我不会自杀"), inside quotation marks or a
   title, about someone else ("她想自杀", "my friend is suicidal"), or in a clause framed as news,
   statistics, fiction or a game ("suicide statistics rose", "小说里主角跳楼了").
3. Signals combine into a level:
   - `crisis`: an act under way ("I took 30 pills", "我已经吞了一瓶安眠药"), or a plan, means,
     place or time ("the pills are ready", "我在楼顶", "今晚就跳") together with a wish to die or
     self-harm in this message or the user's recent messages (`ScreeningInput.history`),
     or an unmistakable plan on its own (a suicide note written); violent intent with means or time.
   - `high_risk`: an explicit wish to die or hurt oneself even with no plan (CN-CRI-04), a plan or
     means with no stated wish, violent intent toward others, a likely scam or a large transfer
     under pressure (`property_loss`), sexual abuse disclosure, sexual content involving minors.
   - `distress`: sadness, hopelessness, anger or exhaustion with no such wish (CN-CRI-02); past
     ideation that the user describes as over.
   - `none`: everything else. Sexual and prohibited requests keep level `none` but carry their
     category, which is what the chat acts on (CN-CON-01).
4. AI replies (direction "outbound") have their own rules: encouraging or describing suicide or
   self-harm (CN-EMO-03), claiming to be the user's real relative (CN-ELD-03, category
   `relative_impersonation`), impossible promises to meet or call (CN-EMO-07, `false_promise`),
   asking for passwords, ID or card numbers (CN-CON-08, `personal_data`), abuse that harms dignity
   (CN-EMO-03, `abuse`), explicit sexual content, violence and prohibited instructions.
   Manipulation, induced dependence and human claims stay in `moderation.stages.OutboundPatterns`.

The score is the level's floor plus a little per extra signal, always in [0, 1]; it orders cases
within a level, it is not a calibrated probability.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from moderation.normalise import normalise
from moderation.pipeline import LEVELS, Finding, ScreeningInput
from moderation.prefilter import Gate

VERSION = "rules-2025.1"

_LEVEL_FLOOR = {"none": 0.0, "distress": 0.35, "high_risk": 0.65, "crisis": 0.88}
_LEVEL_CEIL = {"none": 0.3, "distress": 0.6, "high_risk": 0.85, "crisis": 1.0}


def _any(*patterns: str) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


# ---------------------------------------------------------------------------------------------
# Masks: idioms and harmless uses of risk words, replaced before any rule runs. A replacement
# keeps the meaning that matters ("气死" is anger, so it becomes "生气").
_MASKS_ZH = {
    r"想死(你|我)了|想死你": "想你", r"笑死|笑得要死|笑到死": "笑", r"(累|困|饿|热|冷|渴|撑|忙|痛|疼|酸|甜|丑|帅|美|爱|吓|急|闷|晒|无聊)死(了|我了|人了|啦|啊)?": "很",
    r"气死(我了|了|人了)?": "生气", r"烦死(我了|了|人了)?": "烦", r"[得的]要死": "很", r"要死要活": "很",
    r"杀青|杀价|砍价|秒杀|杀毒|杀软|杀手锏|杀时间|杀鸡|杀鱼|杀猪(?!盘)|杀虫|杀菌|杀进|击杀|杀敌|五杀|超神|双杀|三杀|四杀|团灭|补刀|一刀": "游戏",
    r"跳楼价|跳楼大甩卖|跳楼甩卖|跳楼清仓": "打折", r"打死(我)?(也|都)不": "绝不", r"死机|死循环|死记硬背|死党|死磕|作死|死定了|死心塌地|死宅|死鬼|死对头|该死的(闹钟|天气|作业|电脑|手机|堵车|bug)": "词",
    r"自杀式(袭击|爆炸|攻击|冲锋|打法|操作)?|自杀率|自杀预防|预防自杀|防自杀|自杀干预|自杀热线|心理援助热线": "新闻",
    r"割草|割麦|割韭菜|割肉|割爱|割舍|割包皮": "割", r"安乐死|猝死|寿终": "死亡新闻", r"(游戏|副本|关卡|角色|boss)[^,。!?]{0,6}死": "游戏",
    r"上吊(灯|床|柜)": "灯", r"跳(舞|绳|水|伞|槽|高|远|级|过|蚤)": "活动", r"(死|杀)(人)?不偿命": "词", r"刀子嘴": "嘴",
}
_MASKS_EN = {
    r"\bkill(ing|ed|s)? (the |a |this |that |all )?(final boss|last boss|first boss|raid boss|process|task|job|pid|app|program|server|engine|lights?|music|"
    r"noise|switch|bug|mood|vibe|time|monster|dragon|zombies?|enemies|enemy|creepers?|character|session|tab|"
    r"terminal|query|thread|container|weeds?|bacteria|germs|conversation|buzz|idea|plan|deal|battery|game|level|it|"
    r"competition|spiders?|bugs?|ants?|flies|mosquitos?|mosquitoes|two birds)\b": " stop ",
    r"\b(is|are|was|were|'s|'re|it's|they're) (literally |absolutely |totally |slowly |just )?killing me\b": " is hard ",
    r"\b(is|are|'s|'re|will|'ll|would) (going to |gonna )?(literally )?kill me\b": " will be mad ",
    r"\bedge of my seat\b|\bon edge\b": " tense ", r"\bjump (on|into) (a |the )?(quick |short )?(call|meeting|zoom|project|conversation|bandwagon|train|plane|bus)\b": " join ",
    r"\b(i'd|i would|i could|could|would) (literally |totally )?kill for\b": " want ",
    r"\bkiller\b|\boverkill\b|\bkill ?bill\b|\bkill ?streak\b|\bkill ?count\b|\bkill ?cam\b|\bkill ?switch\b": " k ",
    r"\bdying (of|from|with) (laughter|laughing|embarrassment|boredom|curiosity|cuteness)\b": " laughing ",
    r"\b(i'm|im|i am) (literally )?(dying|dead|deceased)( lol| lmao| haha|[ ]?😂|[ ]?🤣|[ ]?💀)": " laughing ",
    r"\bdying to (see|know|try|meet|go|watch|eat|read|hear|tell|visit|get|play|find out)\b": " eager to ",
    r"\bto die for\b|\bdie ?hard\b|\bdead (tired|serious|wrong|on|end|lines?|weight|ringer|heat|center|centre|last|"
    r"silence|battery|zone)\b|\bdeadlines?\b|\bdrop dead gorgeous\b|\bdo or die\b|\bnever say die\b|\bdie (roll|rolls)\b": " x ",
    r"\b(phone|battery|laptop|car|plant|plants|houseplant|fish|goldfish|engine|printer|computer|pc|battery's|phone's) "
    r"(is |has |just |finally |about to |going to |gonna )*(dead|dying|died|die)\b": " broke ",
    r"\b(could|would|might|will|gonna) (just )?die (of|from) (embarrassment|happiness|joy|shame|cuteness|boredom|laughter)\b": " blush ",
    r"\bsuicide (squad|mission|run|doors?|pass|drill|drills|burn|sprints?|king|bomber|bombers|bombing|attack|attacks|rate|rates|"
    r"statistics|stats|prevention|hotline|awareness|note in the (movie|film|book|novel|show))\b": " term ",
    r"\bself[- ]harm (awareness|prevention|statistics|research|study)\b": " term ",
    r"\b(shot|shoot|shooting) (a |the |some )?(photos?|pictures?|video|film|movie|hoops|basket|ball|goal|shot|shots|scene|"
    r"commercial|documentary|episode|selfies?)\b|\bphotoshoot\b|\bshoot me (a|an) (text|message|email|dm)\b": " film ",
    r"\bhang (out|on|up|in there|tight|around|the (picture|painting|laundry|clothes|lights|decorations))\b": " wait ",
    r"\bcut (my |the |your )?(hair|bangs|nails|losses|cake|bread|onions?|paper|class|classes|costs|ties|back|corners|carbs|"
    r"sugar|deal|grass|lawn|wood|fabric|finger|losses)\b|\bcut it out\b|\bpaper ?cuts?\b": " trim ",
    r"\bbeat (the|this|my|that) (game|level|boss|record|traffic|heat|deadline|score|odds|high score)\b": " win ",
    r"\bjump (rope|start|the gun|in the pool|into the pool|on a call|into the (conversation|project|lake))\b|"
    r"\bbungee jump|\bjumped at the chance\b|\bjump on (it|a call)\b": " go ",
    r"\bmurder (mystery|podcast|documentary|case|trial|show|novel|book)\b|\btrue crime\b": " story ",
}
_MASKS = [(re.compile(k), v) for k, v in {**_MASKS_ZH, **_MASKS_EN}.items()]
_MASK_ANY = re.compile(_any(*_MASKS_ZH, *_MASKS_EN))


@lru_cache(maxsize=1024)
def _mask(text: str) -> str:
    """Idioms masked; cached, since the rules and the learned stage both mask the same message."""
    if not _MASK_ANY.search(text):
        return text
    for pattern, word in _MASKS:
        text = pattern.sub(word, text)
    return text


# ---------------------------------------------------------------------------------------------
# Inbound signals. Each entry: (signal, category, pattern). English patterns are first-person
# anchored where the grammar allows; Chinese drops subjects, so the subject check below decides.
_EN_WISH_VERB = (r"(wants|feel like|want|wanna|wish|need|ready|going|gonna|planning|plan|decided|deserve|prefer|tempted|about|"
                 r"intend|thinking about|thought about|think about|considering|contemplating|keep thinking about|urge|"
                 r"urges|trying|tried|try|would rather|'d rather|rather|have to|just want|want so badly|"
                 r"feel like i should|think i should|should just|might)")
_EN_DEATH = (r"(die|be dead|kill myself|killing myself|end (it all|my life|it|everything|things|myself)|ending (it all|my life|it|"
             r"everything|things)|take my (own )?life|taking my (own )?life|commit suicide|committing suicide|not (be here|exist|"
             r"be alive|wake up)|disappear forever|sleep forever(?= *($|[,.!?]))|never wake up|stop (living|existing|breathing)|jump off|"
             r"hang myself|overdose|overdosing|od|drown myself|shoot myself|slit my wrists?|go to sleep (and|&) (never|not) wake up)")
_INBOUND_RULES: list[tuple[str, str, str]] = [
    # -- wish to die (high_risk) ---------------------------------------------------------------
    ("wish", "suicide", _any(
        rf"\b{_EN_WISH_VERB} (to |of |on )?{_EN_DEATH}\b",
        r"\b(kill|killing|killed|hang|hanging|drown|drowning|shoot|shooting|poison|poisoning) myself\b",
        r"\bend(ing)? my (own )?life\b", r"\btake my (own )?life\b", r"\bcommit(ting)? suicide\b",
        r"\b(i'm|i am|im|feeling|feel|i feel|been|i've been|getting|get|am i|i was|so)(?: [a-z]+){0,2} suicidal\b",
        r"\bwish(ing)? i (was|were) dead\b", r"\b(being dead|death|dying) (sounds|seems|feels|would be|would feel) (better|good|nice|peaceful|like (a )?relief)\b",
        r"\b(don't|do not|can't|cannot) see (a|any) (reason|point) (to live|in living|to go on|to keep going|in going on)\b",
        r"\b(nobody|no one) would (care|notice|miss me) if i (died|was gone|were gone|killed myself|disappeared)\b",
        r"\b(googl\w*|search\w*|look\w* up|research\w*) (for )?(ways|how|methods) to (die|kill myself|end it|overdose|commit suicide)\b",
        r"\bsuicidal (thoughts|ideation|feelings|urges)\b", r"\bthoughts? of (suicide|killing myself|ending (it|my life)|dying)\b",
        r"\b(attempt|try|tried|trying|plan|planning|thinking of|think of|think about|thinking about|contemplating|considering) suicide\b",
        r"\b(i )?(don't|do not|dont|no longer|never) (want|wanna|wish) to (live|be alive|exist|be here|wake up|go on|keep living|continue living)( anymore| any more)?\b",
        r"\b(i )?(don't|do not|dont) (want to|wanna) be (alive|here) (anymore|any more)\b",
        r"\bno (reason|point) (to|in) (live|living|go on|going on|being alive|keep going|staying alive|keep living|stay alive|continue|carry on|wake up)\b",
        r"\bbetter off dead\b", r"\b(everyone|everybody|the world|they|my family|my kids|my parents|people|you all) (would|will|'d) be better (off )?without me\b",
        r"\bi (can't|cannot|cant) (go on|keep going|do this|keep living|live like this|take it)( like this)?( (anymore|any more|much longer))\b",
        r"\bi (can't|cannot|cant) go on(?! (like|with|a|the|to|holiday|vacation|trip|stage|tour|that|this|it|without))\b",
        r"\b(want|wanted|need) (it all |everything |this |my life )?to (be over|end|stop)( for good| forever)?(?= *($|[,.!?]))",
        r"\bwish i (was|were|had been|could be) (dead|never born|gone)\b", r"\bwish i (could )?(die|disappear forever|wouldn't wake up|would never wake up|didn't exist|did not exist)\b",
        r"\b(would rather|'d rather) (be )?(die|dead)\b(?! than (wear|eat|go|do|watch|listen|be seen|sit|work|attend|take|drink|use|see|hear|meet|talk|call|buy|pay))", r"\bhope i (die|don't wake up|never wake up|do not wake up|get hit by)\b", r"\bready to (die|go for good|end it|end my life|say goodbye forever)\b",
        r"\b(life|living|my life) (is|isn't|is not|ain't)( not)? worth (it|living)( anymore)?\b", r"\bnot worth living\b",
        r"\bno (will|desire|wish) to live\b", r"\btired of (living|being alive|life|existing)\b", r"\bdon't want to exist\b",
        r"\b(leave|leaving) this world\b", r"\bkill me\b(?! (now|lol|haha))", r"\bi (could|should|would) (just )?die\b(?! (of|from|for|laughing|happy))",
        r"\bwant to die\b", r"\bwanna die\b", r"\bi want death\b", r"\bi('m| am) done with (life|living|everything|it all)\b",
        r"\bno longer want to be alive\b", r"\bsleep and never wake\b",
    )),
    ("wish", "suicide", _any(
        r"想死|想去死|好想死|真想死|求死|寻死|不想活|活不下去|活不下去了|不活了|活够了|不如死了|死了算了|死了就好了|死了也好|一死了之|一了百了|去死算了",
        r"想自杀|要自杀|自杀|轻生|了结(自己|生命|此生|这一生|一切)?|结束(自己的?|我的)?生命|结束这一切|结束一切|结束自己",
        r"想消失(?!一会|一下|几天|一阵|一段)|永远消失|想永远(睡去|睡下去|睡着|沉睡)|永远不要醒|不想醒来|不想再醒|离开这个世界|告别这个世界|去另一个世界",
        r"没有我[,]?[^。!?]{0,8}(更好|好过|轻松|解脱)|我(消失|死|不在)了[^。!?]{0,10}(更好|解脱|轻松)|大家(都)?(会)?(更好|解脱)|我死了(他们|大家|就)|(该|应该|应当)去死|想从[^,。!?]{0,8}(楼|桥|天台|楼顶|窗户)[^,。!?]{0,4}跳",
        r"想(跳楼|跳河|跳江|跳下去|上吊|烧炭|喝农药|吃安眠药|吞药|撞车|卧轨)|(跳楼|跳河|跳江|上吊|烧炭|卧轨)(算了|吧|死|自尽)",
        r"不想(再)?(存在|活着|活下去|呼吸)|活着(太)?(累|痛苦)(了)?,?不如|活着还有什么意思|为什么(还)?要活着|撑不下去(了)?,?想(走|死)",
    )),
    ("wish", "self_harm", _any(
        r"\b(want|wanna|need|going|gonna|urge|urges|thinking about|tempted|started|start|keep|can't stop|cannot stop|have been|been|relapsed|relapse|"
        r"relapsing|i|i've|i'm|just) (to |on )?(cut|cutting|hurt|hurting|harm|harming|burn|burning|punish|punishing|starve|starving|hit|hitting|scratch|scratching|bruise|bruising) (myself|my (arms?|wrists?|legs?|thighs?|skin))\b",
        r"\b(cut|cutting|hurt|hurting|harm|harming|burn|burning|punched|punching|hit|hitting|carve|carving) (myself|my (arms?|wrists?|thighs?|legs?|skin))\b",
        r"\b(self[- ]?harm|self[- ]?harming|self[- ]?injur(y|e|ing)|sh) (again|urges|relapse|tonight|is back|every|daily)\b",
        r"\b(i|i've|i have|i'm|i am) (been )?(self[- ]?harming|self[- ]?injuring)\b", r"\brelapsed?\b.{0,20}\b(cutting|self[- ]?harm|sh)\b",
        r"\bmy (cuts|scars) (are|keep|won't)\b", r"\b(burned|burnt|cut|scratched|hit|punched|bruised|scalded) (my|myself)\b.{0,25}\b(on purpose|to feel something|to feel anything|until it bled)\b", r"\bdeserve (the )?pain\b", r"\bneed to feel pain\b",
    )),
    ("wish", "self_harm", _any(
        r"自残|自伤|伤害自己|想割腕|割腕|割(自己|手|手腕|腕|胳膊|手臂|大腿)|划(自己|手|手腕|手臂|胳膊|大腿)|(用|拿)(刀|刀片|小刀|美工刀)(划|割)|"
        r"打自己|掐自己|烫自己|撞墙|咬自己|惩罚自己|想(割|划)|(手|胳膊|手臂)上(的)?(伤口|疤)|又(割|划)了|想疼|想痛一下",
    )),
    # -- plan, means, place, time (crisis with a wish, high_risk alone) -----------------------
    ("plan", "suicide", _any(
        r"\b(the |my |all the |all my |these |those )?(pills|tablets|sleeping pills|meds|rope|noose|razor|razors|blades?|knife|gun|"
        r"charcoal|poison|pesticide|bleach|bottle|belt|cord)( is| are|'s|'re)? (all )?(ready|prepared|here|set|in my hand|"
        r"next to me|beside me|on the (table|desk|bed|nightstand)|in front of me|loaded|counted|lined up|tied|waiting|within reach)\b",
        r"\b(i('ve| have)?|just|already) (got|bought|saved|stockpiled|collected|hoarded|prepared|tied|loaded|sharpened|counted|"
        r"gathered|ordered|picked up|found)( up| together| out)? (the |a |some |enough |all (the|my) |my |a bunch of |a bottle of |"
        r"\d+ |twenty |thirty |fifty |a hundred )?(pills|tablets|rope|noose|razor|razors|blades?|knife|gun|charcoal|"
        r"poison|pesticide|sleeping pills|painkillers|bullets?|meds|medication|medicine)\b",
        r"\benough (pills|tablets|sleeping pills|painkillers|meds)\b", r"\b(tied|tying|made|making) (a|the) noose\b",
        r"\b(standing|sitting|i'm|i am|up|out|here) on (the |a |this )?(edge|ledge|roof|rooftop|railing|bridge|top floor|balcony edge|cliff)\b",
        r"\bon the (edge|ledge) of (the |a |this )?(roof|building|bridge|cliff|balcony)\b", r"\b(looking|staring) down from (the|this) (roof|bridge|ledge)\b",
        r"\b(tonight|today|tomorrow|this weekend|right now|in an hour|in a few hours|after (they|everyone) (sleep|leave))( is| will be)? (the night|the day)\b",
        r"\b(tonight|today|tomorrow|this weekend|right now|in an hour|in a few hours)(,)? i('ll| will| am going to|'m going to|'m gonna) (do it|end it|jump|kill myself|die|go through with it|take the pills|end my life)\b",
        r"\bi('m| am) doing it (tonight|now|today|right now)\b", r"\b(bought|stockpiled|hoarded|saved up|collected) (some |the |enough )?(charcoal|rope|pills|sleeping pills|pesticide|poison|meds|medication)\b",
        r"\b(i('ll| will| am going to|'m going to|'m gonna|'m|am) (do it|end it|jump|go through with it|finish it|say goodbye)) (tonight|today|tomorrow|now|soon|this weekend|after)\b",
        r"\b(this is|it's) (my|the) (last|final) (message|goodbye|night|day|time i)\b", r"\b(said|saying|say) (my )?goodbyes?( to (everyone|my family|you all))?\b",
        r"\b(wrote|written|writing|finished|left|drafted|typed) (my |a |the )?(suicide|goodbye|farewell) (note|letter|message)s?\b", r"\bsuicide note\b",
        r"\bgave away (my|all my) (things|stuff|belongings|cat|dog|possessions)\b", r"\b(decided|know|figured out|worked out|planned) (how|when|where) (i('ll| will)|to)\b",
        r"\b(how|when|where) i('m| am) going to do it\b", r"\bgoodbye (forever|world|cruel world|everyone)\b", r"\bwon't be (here|around|alive) (tomorrow|much longer|by morning)\b",
        r"\b\[(pills|rope|knife|gun|coffin|bridge|building|blood)\]",
    )),
    ("plan", "suicide", _any(
        r"(药|安眠药|绳子|绳|刀|刀片|炭|木炭|农药|百草枯|药片|煤气)(都|已经|我)?(已经)?(准备好|买好|备好|在手|放在|就在|磨好|绑好|系好|挂好|数好|攒够|够了|拿出来|在(我)?(手上|手里|旁边|桌上|床边|面前))",
        r"(已经|都|我)?(准备|买|备|存|攒|囤|数)(好|了|够)(了)?[^,。!?]{0,8}(安眠药|药片|药|绳子|刀片|刀|木炭|炭|农药|百草枯)",
        r"把(药|安眠药|绳子|刀|炭|农药|刀片)[^,。!?]{0,4}(准备好|买好|备好|拿出来|放好|数好|绑好)",
        r"遗书|遗言|写(好|完)了?(给.{0,4})?(信|告别信)|后事.{0,4}(安排好|交代好|准备好)|(东西|遗物)(都)?送(人|给别人)了",
        r"(站在|坐在|爬上|我在|在|上了|到了)(楼顶|天台|顶楼|桥上|大桥上|悬崖|楼顶边|栏杆外)",
        r"(今晚|今天|明天|现在|马上|等会|等一下|一会儿|这周末|周末|待会|天亮前|今夜)(我)?(就|要|准备|打算)?(去)?(跳(下去|楼|河|江)?|去死|结束(?=$|[,。!?吧了])|结束(自己|生命|一切|这一切)|了断|动手|自杀|吃药|割|上路)(?!舞|绳|水|伞|槽|高|远|过|级)",
        r"最后一次(跟你|和你)?(说话|聊天)|跟(大家|你们|家人)(告别|说再见)|这是我最后|再见了?(这个世界|大家|世界|所有人)|永别了|下辈子再见",
        r"想好了?(怎么|在哪|什么时候)(死|结束|做)|(方法|地方|时间)(都)?(想好|选好|定好)了",
        r"\[(pills|rope|knife|gun|coffin|bridge|building|blood)\]",
    )),
    # -- act under way: crisis on its own -----------------------------------------------------
    ("act", "suicide", _any(
        r"\bi (just |already |have |'ve )?(took|taken|swallowed|overdosed on|downed|ate|drank|had) (a bunch of |all (of )?(my|the) |the whole (bottle|box|pack) of |a (whole )?bottle of |"
        r"a handful of |\d+ |twenty |thirty |forty |fifty |a lot of |too many |way too many )(pills|tablets|sleeping pills|painkillers|meds|tylenol|paracetamol|bleach|pesticide|poison)\b",
        r"\bi (just |already )?(overdosed|od'd|oded)\b", r"\bi (just |already )?(drank|swallowed|ingested) (some |a bottle of )?(bleach|poison|pesticide|antifreeze|weed killer|drain cleaner)\b",
        r"\b(the )?bleeding (won't|doesn't|will not|isn't going to|wont) stop\b", r"\bcut too deep\b", r"\b(jumping|i'm jumping|going to jump|gonna jump|about to jump|i will jump|i'll jump)( now| off| in)?\b(?! (rope|start|on|into the pool|in the pool|at))",
        r"\b(i'm|i am) (about to|going to|gonna) (do it|end it|kill myself|jump|pull the trigger)( now| tonight| today)?\b",
        r"\b(i )?(can't|cannot) (stop|make) the bleeding( stop)?\b", r"\bblood (is )?(everywhere|won't stop|all over)\b",
        r"\bthe (noose|rope) is (around|on) my neck\b", r"\bgas is (on|running|filling)\b", r"\bcharcoal is (burning|lit)\b",
        r"\bi('m| am) (bleeding|cutting) (now|right now|a lot|badly)\b", r"\bi('ve| have) (already )?started (cutting|taking the pills)\b",
    )),
    ("act", "suicide", _any(
        r"(已经|刚刚|刚才|刚)(吃|吞|喝)(了|下)?[^,。!?]{0,8}(药|安眠药|农药|百草枯|药片)", r"(吃|吞|喝)了(一整瓶|一瓶|一盒|很多|好多|几十片|一把|\d+片|全部)(的)?(安眠药|药|农药|药片)?",
        r"(血|血流)(一直)?(止不住|流了很多|流个不停|到处都是)", r"(已经|刚刚|刚才)(割|划)了", r"炭(已经)?(点|烧)(上|着|起来)了|煤气(已经)?(开|打开)了",
        r"把(药|安眠药|农药|药片)[^,。!?]{0,4}(吞|吃|喝)(了|下去)|我(现在)?(正)?(就)?(要|准备)?跳(下去)?了(?=$|[,。!?])|我现在就跳|我(马上|现在)就(去死|动手|结束)|绳子(已经)?(套在|挂在)(脖子|脖颈)", r"我(正)?站在[^,。!?]{0,6}(边|边缘|栏杆外)[^,。!?]{0,6}(跳|下去)",
    )),
    # -- a place that means danger only after a wish (crisis then, nothing alone) -------------
    ("place", "suicide", _any(
        r"\b(i'm|i am|im|standing|sitting|now) (at|by|near) (the )?(bridge|cliff|train tracks|tracks|river|edge|top of the building|top of the roof|lake)\b",
        r"(站在|坐在|爬上|我在|在|到了)(窗台|江边|河边|湖边|海边|阳台(边|上|栏杆)?|铁轨|桥边|高楼)",
        r"\b(this is|it's) (my|the) last (message|time (we|i) talk)\b", r"\bsaid goodbye\b",
    )),
    # -- past ideation the user says is over (distress) -----------------------------------------
    ("past", "suicide", _any(r"\b(i )?used to (want to die|think about (suicide|killing myself|dying)|be suicidal|self[- ]?harm|cut myself)\b",
                             r"\bwhen i was (younger|a teen|a teenager|in (high )?school)\b.{0,30}\b(suicidal|wanted to die|self[- ]?harm)",
                             r"(以前|曾经|过去|小时候|那时候)(也)?(想过|有过|试过)(自杀|死|自残|轻生)(的念头)?[^。!?]{0,12}(现在|但)")),
    # -- violence toward others ---------------------------------------------------------------
    ("violence", "violence", _any(
        r"\b(i('m| am)?|i'll|i will|i want to|i wanna|i'm going to|i'm gonna|gonna|going to|want to|wanna|plan to|planning to|"
        r"about to|i swear i('ll| will)|i could|i should|i'd like to|i'd love to) (fucking |really |actually |seriously |just )?"
        r"(kill|murder|stab|shoot|hurt|beat up|strangle|poison|attack|choke|burn down|run over|slit the throat of|bash in) (him|her|them|"
        r"my (boss|dad|father|mom|mother|husband|wife|teacher|neighbou?r|brother|sister|ex|classmate|coworker|co-worker|roommate|landlord|"
        r"stepdad|stepfather|bully|bullies|manager|partner|boyfriend|girlfriend)|that (guy|woman|man|bitch|bastard|asshole|kid|teacher|family)|"
        r"everyone|everybody|people|those (people|kids|guys|bastards)|the (whole class|whole school|bully|bullies|teacher|boss))\b",
        r"\b(shoot|shooting) up (the|my|a) (school|office|mall|church|class|workplace)\b", r"\bmake (them|him|her) (all )?pay (with|in) blood\b",
        r"\b(bring|bringing|take|taking) (a |my )?(gun|knife) to (school|work|class|the office)\b",
        r"\bi (want|wanna) (to see )?(him|her|them|everyone) dead\b",
    )),
    ("violence", "violence", _any(
        r"我(迟早|早晚|一定|真的)?(要|想|会|准备|打算|一定要|非要|迟早|真想|恨不得|真的想)(去)?(杀了|杀死|弄死|捅死|砍死|打死|毒死|烧死|掐死|撞死|捅|砍|杀|报复|弄残|废了)"
        r"(他|她|他们|她们|那个|那家伙|那人|这些人|所有人|全班|全家|我(的)?(老板|爸|爸爸|妈|妈妈|老公|老婆|同事|同学|邻居|前任|前男友|前女友|老师|继父|上司|室友))",
        r"(砍死|捅死|杀死|弄死|毒死|掐死)(他|她|他们|那个人|那人|那家伙)|同归于尽|血洗|报复社会|杀(光|了)(他们|所有人|全家)|让(他|她|他们)(血债血偿|付出血的代价)|(带|拿)(刀|枪)去(学校|公司|找他|找她)",
    )),
    ("violence_plan", "violence", _any(
        r"\b(bought|got|have|sharpened|loaded|brought) (a |the |my )?(gun|knife|axe|bat|rifle|pistol|bullets)\b.{0,40}\b(him|her|them|tomorrow|tonight|for)\b",
        r"\b(tonight|tomorrow|today|this weekend|monday|on friday)\b.{0,30}\b(kill|stab|shoot|attack)\b",
        r"(刀|枪|斧头|汽油)(已经)?(买好|准备好|磨好|带好)|(今晚|明天|今天|周末|下班后)(就)?(去)?(杀|捅|砍|报复)",
    )),
    # -- property loss: scams, large transfers under pressure --------------------------------
    ("money", "property_loss", _any(
        r"\b(transfer|transferred|transferring|send|sent|sending|wire|wired|wiring|move|moved|moving|pay|paid|paying|deposit|deposited|put|invest|invested|investing|withdraw|withdrew|cash out|buy|bought)\b",
        r"转账|汇款|转到|转给|转过去|转出|把钱转|打款|打钱|转钱|付款|充值|刷单|垫付|交(了)?(保证金|手续费|解冻费|押金|税费)|投资|买(了)?(币|比特币|usdt)|提现|贷款|借(了)?钱|网贷|取(了)?(出来|钱)",
    )),
    ("scam", "property_loss", _any(
        r"\b(safe|secure|safety|protected|holding|verification|supervision) account\b", r"\b(gift cards?|itunes cards?|steam cards?|bitcoin atm|crypto atm|western union)\b.{0,60}\b(police|officer|irs|tax|fine|warrant|bail|grandson|granddaughter|kidnap|pay|send|buy)\b",
        r"\b(money laundering|arrest warrant|release fee|customs fee|processing fee|clearance fee|unfreeze fee|unlock fee|tax on (the|my) (prize|winnings))\b",
        r"\b(guaranteed|risk[- ]free|sure[- ]?fire|400%|300%) (returns?|profits?|gains?|income)\b", r"\bdouble (my|your) money\b",
        r"\bi('ve| have)? (been|got|just got) (scammed|defrauded|cheated|conned|swindled)\b", r"\b(scammed|cheated|conned|swindled) (me )?out of\b",
        r"\b(won|winning|win) (a|the) (lottery|prize|jackpot|sweepstakes)\b.{0,60}\b(fee|tax|pay|transfer)\b",
        r"\b(account|card|assets) (will be|is being|has been|are being|to be) (frozen|seized)\b|\bunfreeze\b",
        r"\b(wallet|crypto|usdt)\b.{0,40}\b(stranger|mentor|guy i met online|someone i met online)\b",
        r"\bkidnapped\b.{0,60}\b(ransom|pay|transfer|send)\b|\b(ransom)\b",
    )),
    ("scam", "property_loss", _any(
        r"安全账户|公检法|涉嫌(洗钱|犯罪|诈骗)|(账户|银行卡|资产)(被|要被|会被|将被)冻结|解冻|保证金|刷单|返利|杀猪盘|高回报|稳赚|(包|保)赚|内幕(消息)?|征信(有问题|修复|受影响)|注销(校园贷|账户)|"
        r"被骗(了)?|上当(了)?|骗(走|光)了|被诈骗|遇到诈骗|(中奖|中了)[^。!?]{0,15}(手续费|税费|税|先交)|绑架|赎金",
    )),
    ("lure", "property_loss", _any(
        r"\b(police|officer|detective|agent|bank|customs|tax office|irs|prosecutor|court|investigator|fbi|embassy|lawyer|grandson|granddaughter|nephew)\b.{0,80}\b(told|asked|wants?|said|ordered|threatened|instructed|demanded|needs?)\b",
        r"\b(verification|security|otp|one[- ]time) (code|password|pin)\b", r"\bscreen ?shar(e|ing)\b", r"\bremote access\b|\banydesk\b|\bteamviewer\b",
        r"\b(online|internet) (boyfriend|girlfriend|lover|friend)\b|\bnever met (in person|him|her)\b", r"\b(trading|investment|crypto) (app|platform|group|mentor|teacher|opportunity)\b",
        r"\b(gift cards?|bitcoin|crypto|usdt|western union)\b", r"\b(all|entire|whole) (of )?my (life |retirement )?savings\b|\bmy (life|retirement|pension) savings\b|\bmortgage (my|the) (house|flat)\b",
        # CN-ELD-02: the phone scam aimed at older people ("a caller says I must move my savings now").
        r"\b(a|the|some) (caller|stranger|man on the phone|woman on the phone|voice on the phone)\b.{0,40}\b(says?|said|told|asked|wants?|insists?)\b",
        r"(对方|陌生人|自称|有人|警察|公安|检察院|法院|民警|警官|客服|银行|领导|老板|孙子|儿子|女儿)[^。!?]{0,20}(说|让|要求|叫|通知)|验证码|屏幕共享|共享屏幕|远程(控制|协助)|中奖|网恋|没见过面|(投资|理财|炒币|博彩|炒股)(平台|群|老师|导师|app)|(全部|所有|一辈子的?)积蓄|养老钱|(房子|房)(抵押|卖了)|贷款",
    )),
    ("pressure", "property_loss", _any(
        r"\b(or (else )?(i('ll| will)|they('ll| will)) (be )?(arrested|jailed|sued|prosecuted|lose)|within (an|one|the next|\d+) (hour|hours|minutes|day)|"
        r"right now|immediately|urgent(ly)?|asap|today only|before (midnight|tonight|the deadline)|don't tell (anyone|my family|my (wife|husband|kids|parents))|"
        r"told me (not to tell|to keep it (secret|quiet))|keep it (secret|confidential|quiet)|can't tell anyone|secret)\b",
        r"\b(all|entire|whole) (of )?my (life |retirement )?savings\b|\b\d{2,3},?\d{3}\b|\b\d+k\b|\bthousands?\b|\bmillions?\b|\btens of thousands\b",
        r"不要告诉(任何人|家人|别人|老公|老婆|父母)|保密|马上|立刻|今天之内|\d+(分钟|小时)内|否则|不然(就)?(要)?(被)?(抓|坐牢|冻结|起诉|逮捕)|(全部|所有)(的)?(积蓄|存款|钱)|养老钱|[\d一二三四五六七八九十几]+万|借(遍|了很多)",
        r"\b(my )?(retirement|life|pension) savings\b",
        r"\b(must|have to|need to) (move|transfer|send|withdraw|wire) (all )?my (savings|money|pension)\b.{0,20}\b(now|today|at once)\b",
    )),
    # -- sexual -------------------------------------------------------------------------------
    ("sexual", "sexual", _any(
        r"\b(send|show|share) (me )?(your )?(nudes|nude (pics|photos)|naked (pics|photos)|dick pics?)\b", r"\b(have|let's have|want to have|wanna have|let's) (sex|phone sex|cybersex)\b",
        r"\b(sexting|sext me|talk dirty|dirty talk|make me cum|blowjob|handjob|horny|masturbat\w*|porn|pornography|erotic roleplay|erp)\b", r"\bfuck me\b|\bsuck my\b",
        r"做爱|约炮|裸照|色情|性爱|啪啪|自慰|口交|开房|黄片|发骚|脱(光|衣服)给我看|裸聊|性幻想",
    )),
    ("assault", "sexual", _any(
        r"\b(raped|rape|sexually (assaulted|abused|harassed)|molested|groped)\b.{0,20}\b(me|i was|i've been|i got)\b|\b(i was|i've been|i got|he|she|they) (raped|molested|sexually assaulted|groped)( me)?\b",
        r"\b(touches|touched|touching|fondles|fondled) (me|my (private|body|chest|breasts|crotch))\b.{0,40}\b(uncle|stepdad|teacher|coach|boss|he|she|cousin|brother)?\b",
        r"(强奸|性侵|猥亵|迷奸)(了)?我|我被(强奸|性侵|猥亵|迷奸|摸)|(摸|碰)我(的)?(隐私|下面|胸|身体)",
    )),
    ("minor", "minor_sexual", _any(
        r"\bi('m| am) (only )?(1[0-7]|[6-9]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b|\b(1[0-7]|[6-9]) ?(years? old|yo|y/o)\b",
        r"\b(child|children|kid|kids|minor|minors|underage|preteen|loli|lolis|schoolgirl|schoolboy|middle schooler|little (girl|boy))\b",
        r"(小学生|初中生|中学生|未成年|儿童|小孩|萝莉|幼女|正太|女童|男童|[1一][0-7一二三四五六七]岁|[6-9六七八九]岁)",
    )),
    # -- prohibited (CN-CON-01) ----------------------------------------------------------------
    ("prohibited", "prohibited", _any(
        r"\bhow (do i|to|can i|could i|would i) (make|build|buy|get|cook|synthesi[sz]e|brew|order|3d print) (a |an |some )?(bomb|pipe bomb|explosives?|meth|methamphetamine|cocaine|heroin|"
        r"fentanyl|gun|ghost gun|napalm|poison|ricin|sarin|thermite|molotov|date rape drug|untraceable gun)\b",
        r"\b(buy|order|get) (drugs|weed|meth|cocaine|heroin|fentanyl|guns?|a gun|ecstasy|mdma|lsd) (online|on the dark ?web|without a license)\b",
        r"\b(dark ?web) (market|link|drugs|guns)\b", r"\bjoin (isis|al[- ]qaeda|a terrorist)\b",
        r"(怎么|如何|教我)(做|制作|造|买|弄到|合成|提炼|搞到)(炸弹|炸药|冰毒|毒品|枪|枪支|海洛因|迷药|k粉|大麻|摇头丸|雷管)|(买|卖)(冰毒|毒品|枪支|迷药|k粉|海洛因)|网赌|赌博网站|博彩网站|六合彩|邪教|分裂国家|颠覆(国家)?政权",
    )),
    # -- distress -----------------------------------------------------------------------------
    ("distress", "distress", _any(
        r"\b(i('m| am)|im|i feel|i felt|feeling|i've been|i have been|i get|i got|i keep feeling|makes me feel|i've felt|i'm feeling|so) (so |really |very |totally |completely |just |kind of |kinda |super |extremely |pretty |a bit |a little |incredibly |deeply |utterly |always |constantly |still |too )*"
        r"(sad|depressed|hopeless|worthless|empty|lonely|alone|exhausted|miserable|broken|numb|useless|helpless|devastated|heartbroken|crushed|lost|"
        r"overwhelmed|anxious|desperate|trapped|ashamed|angry|furious|pissed|enraged|a failure|a burden|a mess|unlovable|invisible|drained|burnt out|burned out|defeated|like crap|like shit|like a failure|like a burden|like nothing)\b",
        r"\bi (feel|felt|'ve been feeling|have been feeling|am feeling|'m feeling) (so |really |very |pretty |kind of |kinda |a bit |a little |extremely )*(down|low|lost|awful|terrible|alone|stuck|horrible|hopeless|bad about myself)\b",
        r"\bi hate (myself|my life|everything|being alive)\b", r"\b(nobody|no one|no-one) (cares|loves me|would notice|would care|would miss me|understands me|wants me|likes me)\b",
        r"\bi (can't|cannot|cant) (take|handle|bear|stand|cope with) (it|this|anymore|any of this|my life)\b", r"\bi (can't|cannot|cant) (do this|cope)( anymore)?\b",
        r"\bi (want to|wanna|just want to) (give up|disappear|cry|scream|run away|hide|vanish)\b", r"\bwhat's the point\b|\bwhat is the point\b|\bno point (anymore|in anything|in trying)\b",
        r"\bi (cry|cried|keep crying|have been crying|'ve been crying|cry myself to sleep)\b", r"\bcan't stop crying\b", r"\beverything is (falling apart|hopeless|pointless|too much)\b",
        r"\bi('m| am) (so )?(tired|sick) of (everything|it all|this|trying|being me|my life)\b", r"\bi (give|gave) up\b", r"\bi('m| am) (not okay|not ok|falling apart|struggling|drowning|breaking down)\b",
        r"\bpanic attacks?\b", r"\bi (can't|cannot) (sleep|eat|breathe)\b", r"\bi('m| am) losing (it|my mind)\b", r"\bkill me (now|lol|haha)\b",
        r"\bcan't go on like this\b", r"\b(life|everything) (sucks|is shit|is meaningless|has no meaning|feels pointless)\b",
    )),
    ("distress", "distress", _any(
        r"难过|伤心|痛苦|绝望|抑郁|崩溃|好累|心累|很累|太累|孤独|孤单|寂寞|没人(在乎|关心|理解|爱|喜欢|需要)我|没有人(在乎|关心|理解|爱|需要)我|活着(没|没有)(意思|意义)|撑不下去|熬不下去|受不了了|坚持不下去|"
        r"想哭|一直哭|哭了(一|整)?(晚|夜|天)|失眠|焦虑|压力(好|很|太|特别)大|生气|愤怒|恨我自己|讨厌(我)?自己|我(就)?是(个|一个)?(废物|累赘|失败者|多余的|负担)|没有希望|看不到(希望|未来|出路)|"
        r"不想(上学|上班|见人|说话|起床)|心好痛|心里(好|很)(难受|痛|空)|好委屈|好烦|烦透了|很烦|空虚|麻木|没意思|没有意义|想放弃|放弃了|走投无路|无路可走|喘不过气|"
        r"被(霸凌|欺负|孤立|抛弃|骂)|好无助|无助|我(好|很|真)没用|一无是处|心情(很|好|特别)?(差|糟|低落|不好)|情绪(很|好)?(低落|崩溃)|不开心|郁闷|(好|很)丧|emo了|人间不值得",
    )),
]

# ---------------------------------------------------------------------------------------------
# Outbound signals (AI replies). Every hit makes moderation/streaming.py replace the sentence.
_OUTBOUND_RULES: list[tuple[str, str, str]] = [
    ("encourage", "suicide", _any(
        r"\b(you should|why don't you|just|go|maybe you should|you could|you might as well|you deserve to|it's okay to|it is okay to|it's fine to|you have every right to|go ahead and) "
        r"(kill yourself|end it|end your life|die|end it all|take your (own )?life|jump|give up on life|cut yourself|hurt yourself|overdose|hang yourself)\b",
        r"\bkill yourself\b|\bkys\b|\bgo die\b|\bdrop dead\b", r"\b(the world|everyone|your family|they|people) (would be|is|are|'d be|will be) better (off )?without you\b",
        r"\bnobody (would|will) (miss|notice|care about) you\b", r"\b(dying|death|suicide) (is|would be) (a|the) (relief|release|answer|solution|way out|peaceful escape|beautiful)\b",
        r"\b(most |least )?(painless|easiest|quickest|fastest|best|surest|cleanest|peaceful|quiet) (way|ways|method|methods) to (die|kill yourself|end (it|your life)|commit suicide)\b",
        r"\b(take|swallow|you'd need|you would need) (enough|a lot of|all (of )?(the|your)|about \d+|at least \d+|\d+) (pills|tablets|sleeping pills|painkillers|mg)\b",
        r"\bcut (deeper|along the|down the|vertically|your wrists?)\b", r"\b(jump|jumping) (off|from) (a|the) (bridge|roof|building|cliff|high)\b",
        r"\b(hanging|a noose|carbon monoxide|charcoal burning|overdose|exhaust fumes)\b.{0,40}\b(works|effective|painless|quick|way|method|how)\b",
        r"\b(you have|you've got) nothing (left )?to live for\b", r"\byour (pain|suffering) will end (when|if) you\b",
    )),
    ("encourage", "suicide", _any(
        r"(你)?(就|可以|应该|不如|干脆|赶紧|最好)(试试|试一下)?(去死|自杀|跳楼|割腕|上吊|结束(自己的?|你的)?生命|吃安眠药|烧炭|了结自己)|去死吧|你死了算了|你怎么不去死",
        r"没有你[,]?[^。!?]{0,6}(更好|清净)|没人会(想|在乎|记得)你|死(亡)?(是|才是)(一种)?(解脱|答案|出路|唯一的办法)",
        r"(最)?(无痛|不痛苦|快|简单|有效)的(自杀|死|结束生命)(方法|方式|办法)|(吃|吞)(够|一整瓶|多少片|\d+片)(安眠药|药)(就|才)?(能|可以|会)|割(得)?(深一点|更深|竖着)|从(多高|几楼)(跳|跳下)",
        r"(烧炭|上吊|跳楼|割腕|服毒|喝农药)(的)?(方法|步骤|最|比较)[^。!?]{0,6}(有效|无痛|快|简单|是)",
    )),
    ("violence", "violence", _any(
        r"\b(you should|go|just|why don't you|you could|you need to) (kill|stab|shoot|hurt|beat up|poison|attack|get revenge on) (him|her|them|your \w+)\b",
        r"(你)?(就|应该|可以|去|干脆)(杀了|弄死|捅|砍|揍|报复|毒死)(他|她|他们|那个人)",
    )),
    ("relative", "relative_impersonation", _any(
        r"\b(i('m| am)|it's|it is|this is)( really| actually| truly| just)? (me,? )?your (real |actual |own |late |dear |beloved )?(mother|mom|mum|mommy|mama|father|dad|daddy|papa|grandma|grandmother|granny|nana|grandpa|grandfather|"
        r"granddad|grandson|granddaughter|grandchild|son|daughter|late husband|late wife|husband|wife)\b",
        r"\b(mom|mum|mommy|dad|daddy|grandma|grandpa|granny|your (late )?(husband|wife)) (is|has come|came) (back|here) (for you|from heaven|to you)\b",
        r"(我|这)(就|真的|其实)?是你(的)?(亲生的?|真正的|已故的|去世的)?(妈妈|妈|母亲|爸爸|爸|父亲|奶奶|爷爷|外婆|外公|姥姥|姥爷|孙子|孙女|外孙|外孙女|儿子|女儿|老伴|丈夫|妻子|老公|老婆)",
        r"(妈妈|爸爸|奶奶|爷爷|外婆|外公|老伴)(从天上|从那边)?回来(看你|陪你)了",
    )),
    ("promise", "false_promise", _any(
        r"\bi('ll| will| can| could|'m going to| am going to|'m gonna) (pick you up|come (to|over to) your (house|place|home|city)|meet you|see you in person|visit you|pick you up|call you|phone you|"
        r"hold you|hug you|kiss you|be there in person|come find you|take you (out|to)|marry you|cook (for|dinner for) you|bring you|drive you)\b(?! (here|in (the|this) (chat|app|story)))",
        r"\blet's (meet|meet up|get coffee|have dinner|go on a date|see each other) (tomorrow|tonight|this weekend|in person|at|on|next)\b", r"\b(see|meet) you (tomorrow|tonight|this weekend|on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)) at\b",
        r"\bi promise (i('ll| will) )?(always be there in person|to meet you|to visit|to come|to call you)\b", r"\bwait for me at\b", r"\bi('ll| will) be (at|outside) your (door|house|school|office)\b",
        r"我[^,。!?]{0,6}(去|来)(见你|找你|接你|看你|你家|你们学校|你公司)|我(会|明天|今晚|晚上)?(给你)?打电话(给你)?|我们(明天|今晚|周末|下周|改天)(见面|约会|一起吃饭|见)|等我(去|来)(找你|接你|见你)|我(会)?(抱|亲)(你|抱你)(一下)?(?!的感觉)|我(会)?(娶|嫁给)你|不见不散",
    )),
    ("personal", "personal_data", _any(
        r"\b(what's|what is|tell me|send me|give me|share|type|i need|can i (have|get)|could you (give|send|tell|share)|let me (have|know)) (me )?(your )?(password|passcode|pin|bank (card|account)( number)?|card number|credit card( number)?|"
        r"cvv|security code|verification code|the verification code|the code|otp|id number|id card( number)?|social security( number)?|ssn|passport number|home address|exact address|full address|login|account number|routing number|mother's maiden name)\b",
        r"\byour (password|pin|card number|cvv|verification code|id number|ssn|social security number)\b.{0,20}\?",
        r"(告诉我|发给我|给我|说一下|报一下|输入|分享)(一下)?你的?(密码|银行卡号?|卡号|身份证号?(码)?|验证码|支付密码|家庭住址|详细地址|住址|cvv|安全码|账号密码|公司机密)",
        r"你(家)?的?(密码|银行卡号|卡号|身份证号(码)?|验证码|支付密码|家庭住址|详细地址|住址|地址)是(多少|什么|哪)",
        r"(你的?)?(银行卡号?|卡号|密码|验证码|身份证号?(码)?|支付密码)[^,。!?]{0,6}(发给我|告诉我|报给我|给我)",
    )),
    ("abuse", "abuse", _any(
        r"\byou('re| are) (so |such a |a |an )?(worthless|pathetic|stupid|idiot|loser|disgusting|useless|waste of space|failure|ugly)\b(?! (to|if))",
        r"\bno one (could|would|will) ever love you\b", r"\byou (deserve|earned) (this|to suffer|the pain|to be alone)\b",
        r"你(真|就是|是个|就是个|真是个|这个|这种)?(废物|没用|蠢货|白痴|垃圾|丑八怪|失败者|累赘)|没人会爱你|你活该",
    )),
    ("sexual", "sexual", _any(
        r"\b(take off|remove|strip) (your|my) (clothes|shirt|pants|bra|panties|underwear)\b", r"\b(naked|nude|cock|pussy|moan(ing)?|orgasm|cum|thrust(ing)?|erection|nipples?)\b",
        r"\b(send|show) me (your )?(nudes|body|naked)\b", r"脱(掉|光)(你的?|我的?)?(衣服|内衣|裤子)|裸体|呻吟|高潮|做爱|舔|发(张)?(裸照|私密照)",
    )),
    ("prohibited", "prohibited", _any(
        r"\b(mix|combine|heat|add) (the )?(ammonium nitrate|bleach and ammonia|pseudoephedrine|red phosphorus|acetone peroxide)\b",
        r"\b(step \d|first,?) .{0,40}(detonator|explosive|fuse|meth|synthesis)\b", r"\b(you can buy|buy) (drugs|guns|meth|cocaine) (on|from|at)\b",
        r"(把)?(硝酸铵|雷管|引信|麻黄碱|红磷)[^,。!?]{0,20}(混合|加热|加入|点燃)|(去|在)(暗网|网上)(买|购买)(毒品|枪支|冰毒)|推荐(你)?(一个)?(赌博|博彩)(网站|平台)",
    )),
    ("money", "property_loss", _any(
        r"\b(transfer|send|wire|invest|put) (all |your )?(your )?(savings|money|pension|retirement)\b.{0,40}\b(to me|into|now|today|platform|account)\b",
        r"\bbuy (me )?(this|a|the) (gift|premium|upgrade|coins|gems)\b.{0,30}\b(now|today|prove|or)\b",
        r"(把|将)?(你的?)?(积蓄|存款|钱|养老钱)(都|全部)?(转|投|打)(给我|到|进)|(给我|为我)(充值|转账|打钱|买礼物)",
    )),
]

# Negators that cancel the rule matched right after them. Anchored to the end of the text before
# the match, within the clause.
_NEG_EN = re.compile(r"\b(don't|do not|dont|didn't|did not|never|not|won't|will not|wouldn't|would not|no longer|am not|i'm not|im not|isn't|aren't|"
                     r"nobody|no one|stop|please don't|please do not|can't imagine|cannot imagine|why would|wouldn't ever|would never|will never|"
                     r"shouldn't|should not|how to stop|ways to stop|afraid to|scared to|too scared to|glad i didn't)"
                     r"( (really|ever|actually|even|honestly|at all|seriously))*( (want to|wanna|wish to|going to|gonna|plan to|intend to|think (about|of)|thinking (about|of)|"
                     r"feel|feeling|have to|need to|try to|let myself|be|become|get|let you|i|i'd|i'll|you|you'd|let))*\s*(to\s*)?$")
_NEG_ZH = re.compile(r"(不|没|没有|从没|从来没|从来没有|从未|绝不|绝对不|并不|并没有|不会|不要|别|不再|才不|没想过|不想|不能|不可以|不敢|别想|千万别|千万不要|不至于|不是)"
                     r"(会|想|要|打算|想过|考虑过|有过|再|去|让你|让自己)?(去)?$")
_FIRST_PERSON_EN = {"i", "i'm", "im", "i've", "i'll", "i'd", "me", "my", "myself"}
_THIRD_PERSON_EN = re.compile(r"\b(i|i'm|im|i've|i'll|i'd|me|my|myself|he|she|they|he's|she's|they're|his|her|their|him|them|someone|somebody|"
                              r"people|person|character|characters|friend|friends|brother|sister|mom|mum|dad|mother|father|son|daughter|"
                              r"man|woman|guy|girl|boy|kid|student|patient|client|hero|heroine|protagonist|villain|author|singer|actor|"
                              r"actress|celebrity|teenagers?|coworker|neighbou?r|cousin|uncle|aunt|grandma|grandpa|classmate|roommate|"
                              r"wife|husband|partner|boyfriend|girlfriend)\b")
_SUBJECT_ZH = re.compile(r"我|他|她|它|他们|她们|别人|有人|朋友|同学|同事|室友|角色|主角|主人公|男主|女主|网友|明星|作者|歌手|演员|邻居|表哥|表姐|"
                         r"哥哥|姐姐|弟弟|妹妹|爸爸|妈妈|爷爷|奶奶|闺蜜|男朋友|女朋友|老公|老婆|孩子|学生|病人|患者|大家|人们|很多人|一个人")
_FRAME = re.compile(r"\b(statistics|study|studies|research|researchers|report|reported|reports|according to|survey|rates?|percent|novel|book|story|"
                    r"chapter|character|movie|film|tv show|the show|series|episode|anime|manga|video game|in the game|in game|song|lyrics|poem|"
                    r"essay|article|news|headline|documentary|history|historical|scene|plot|prevention|hotline|awareness|lecture|class|homework|"
                    r"assignment|thesis|translate|translation|meaning of|definition|how many people|playing|play as|spoiler|fanfic|fiction|"
                    r"script|screenplay|roleplay|rp|shakespeare|romeo|juliet|hamlet|sylvia plath|hemingway|van gogh|robin williams|cobain|"
                    r"samurai|seppuku|museum|exhibit|podcast|policy|law|legal|insurance|doctors?|nurses?|psychology|psychiatry|tiktok|trend|meme)\b|"
                    r"%|据报道|报道|新闻|统计|研究|调查|数据|小说|故事|剧情|电影|电视剧|剧里|动漫|漫画|游戏里|游戏中|角色|主角|歌词|这首歌|诗|文章|历史|课上|论文|"
                    r"作业|翻译|什么意思|纪录片|话剧|剧本|演员|明星|网友|热搜|作文|阅读理解|课文|案件|警方|法院|判决|预防|干预|讲座|科普|心理学")
_CLAUSE = re.compile(r"[.!?。！？;；\n]+|,|，|\bbut\b|\bthough\b|但是|可是|不过|然而")
_QUOTED = re.compile(r"\"[^\"]{1,200}\"|「[^」]{1,200}」|『[^』]{1,200}』|《[^》]{1,200}》|'[^']{8,200}'(?=\s|$|[,.!?])")
# Everyday reasons to have pills ready, be on a roof or hold a knife: these cancel a plan signal
# (never a wish or an act under way).
_BENIGN_PLAN = re.compile(
    r"\b(pharmacy|pharmacist|prescription|refill|doctor|clinic|vitamins?|antibiotics?|cold medicine|flu|allergy|allergies|for my (mom|mum|dad|grandma|"
    r"grandpa|son|daughter|kid|kids|cat|dog|baby)|the (view|sunset|sunrise|stars|fireworks|moon|skyline)|party|barbecue|bbq|garden|photos?|pictures?|"
    r"fix(ing)?|repair(ing)?|antenna|solar|gutters?|camping|hiking|cooking|recipe|kitchen|chop(ping)?|vegetables|steak|birthday|cake|hunting|"
    r"fishing|whittl\w*|carving (wood|a pumpkin)|pumpkin|craft|crafts|hardware|vet|dinner|lunch|breakfast|grocer\w*|laundry|anniversary|"
    r"movie|game|gig|concert|rooftop bar|yoga|drone|telescope|paint(ing)?|wedding|headache|migraine|coworkers|colleagues|team|board|plane|"
    r"flight|holidays?|vacation|see you|company|last day|graduat\w*|job|club|walk|walking|jog\w*)\b|"
    r"医生|医院|药店|药房|感冒|发烧|咳嗽|过敏|维生素|处方|按时吃|给(妈妈|爸爸|奶奶|爷爷|外婆|外公|孩子|宝宝|猫|狗|老人)|(看|拍)(风景|日落|日出|星星|烟花|夜景|月亮)|"
    r"拍照|晒(被子|衣服)|修(理)?|天线|太阳能|烧烤|做饭|切菜|野营|露营|旅行|旅游|生日|蛋糕|派对|聚会|钓鱼|雕刻|水果|西瓜|菜刀|厨房|晚饭|午饭|早饭|演唱会|婚礼|跳舞|舞蹈|比赛|考试|种菜|浇花|花园|看书|散步|喝茶|乘凉|吹风|出差|同事|毕业|辞职|工作")
_ACCIDENT = re.compile(r"\b(while|by accident|accidentally|at the gym|playing|chopping|cooking|shaving|slipped|fell|tripped|working out|"
                       r"lifting|running|training|on the stove|in the kitchen)\b|不小心|摔|做饭|切菜")
_LAUGH = re.compile(r"\b(lol|lmao|lmfao|haha+|hehe|jk|just kidding|kidding|joking)\b|😂|🤣|😆|哈哈|开玩笑|嘻嘻|hhh")


@dataclass(frozen=True)
class _Hit:
    signal: str
    category: str
    evidence: str


class _RuleSet:
    def __init__(self, rules: list[tuple[str, str, str]]):
        self.rules = [(signal, category, re.compile(pattern)) for signal, category, pattern in rules]
        self.gate = Gate([pattern for _, _, pattern in rules])  # skips rules whose literals are absent

    def hits(self, text: str, *, checked: bool) -> list[_Hit]:
        candidates = self.gate.candidates(text)
        if not candidates:
            return []
        clauses = _clause_bounds(text) if checked else None
        quoted = [m.span() for m in _QUOTED.finditer(text)] if checked else []
        found = []
        for index, (signal, category, pattern) in enumerate(self.rules):
            if index not in candidates:
                continue
            for match in pattern.finditer(text):
                if checked and not _counts(text, match, signal, clauses, quoted):
                    continue
                found.append(_Hit(signal, category, match.group(0)))
                break
        return found


def _clause_bounds(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for match in _CLAUSE.finditer(text):
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return bounds


_CONTEXT_FREE = {"money", "scam", "pressure", "minor", "sexual", "prohibited"}


def _counts(text: str, match: re.Match, signal: str, clauses, quoted) -> bool:
    """A rule's match counts unless negated, quoted, about someone else or framed as news/fiction."""
    if signal in _CONTEXT_FREE:
        return True
    start, end = match.span()
    if any(q_start <= start and end <= q_end for q_start, q_end in quoted):
        return False
    clause_start, clause_end = next(((a, b) for a, b in clauses if a <= start <= b), (0, len(text)))
    prefix = text[clause_start:start]
    if _NEG_EN.search(prefix) or _NEG_ZH.search(prefix):
        return False
    clause = text[clause_start:clause_end]
    if _FRAME.search(clause):
        return False
    if signal in ("plan", "place") and _BENIGN_PLAN.search(text):
        return False
    if signal == "wish" and _ACCIDENT.search(clause):
        return False
    if signal in ("distress", "wish", "plan", "act", "past", "place", "scam"):
        if not _is_self(prefix, match.group(0)):
            return False
    return True


def _is_self(prefix: str, matched: str) -> bool:
    if re.search(r"\b(myself|my|i|me)\b|我", matched):
        return True
    subjects = _SUBJECT_ZH.findall(prefix)
    if subjects:
        return subjects[-1] == "我"
    words = _THIRD_PERSON_EN.findall(prefix)
    if words:
        return words[-1] in _FIRST_PERSON_EN
    return True


_INBOUND = _RuleSet(_INBOUND_RULES)
_OUTBOUND = _RuleSet(_OUTBOUND_RULES)


@lru_cache(maxsize=1024)
def inbound_hits(masked: str) -> tuple[_Hit, ...]:
    """The inbound rule hits of masked, normalised text; cached, since the learned stage reads them too."""
    return tuple(_INBOUND.hits(masked, checked=True))


@lru_cache(maxsize=2048)
def _signals(text: str) -> frozenset[str]:
    """The self-harm signals of one earlier user message (for context), cached across turns."""
    masked = _mask(normalise(text))
    return frozenset(h.signal for h in inbound_hits(masked) if h.category in ("suicide", "self_harm"))


def _level(signals: set[str], history: frozenset[str], hits: list[_Hit], laugh: bool) -> tuple[str, list[str]]:
    categories: list[str] = []
    level = "none"

    def raise_to(new: str, *cats: str):
        nonlocal level
        if LEVELS.index(new) > LEVELS.index(level):
            level = new
        categories.extend(c for c in cats if c not in categories)

    self_cats = [h.category for h in hits if h.signal in ("wish", "plan", "act")] or ["suicide"]
    wish_now = "wish" in signals
    wish_before = bool(history & {"wish", "plan", "act"})
    if "violence" in signals and not wish_now and not wish_before and "plan" in signals:
        # Means or a time next to violent intent toward others is a plan against them, not oneself.
        signals = (signals - {"plan"}) | {"violence_plan"}
    if "past" in signals and not {"plan", "act"} & signals:
        signals = signals - {"wish"}
        wish_now = False
    if "place" in signals and (wish_now or wish_before):
        signals = signals | {"plan"}
    if "act" in signals or "plan" in signals or (wish_now and history & {"plan", "act"}):
        raise_to("crisis", *self_cats)
    elif wish_now:
        raise_to("high_risk", *self_cats)
    elif "distress" in signals and wish_before:
        raise_to("high_risk", "suicide")
    elif "past" in signals:
        raise_to("distress", "suicide")
    if "violence" in signals and not laugh:
        raise_to("crisis" if "violence_plan" in signals else "high_risk", "violence")
    if ("scam" in signals and ({"money", "pressure", "lure"} & signals or _loss_stated(hits))) or {"lure", "money", "pressure"} <= signals:
        raise_to("high_risk", "property_loss")
    if "assault" in signals:
        raise_to("high_risk", "minor_sexual" if "minor" in signals else "sexual")
    if "sexual" in signals:
        raise_to("high_risk" if "minor" in signals else "none", "minor_sexual" if "minor" in signals else "sexual")
    if "prohibited" in signals:
        raise_to("none", "prohibited")
    if "distress" in signals and level == "none" and not categories:
        level = "distress"
    return level, categories


def _loss_stated(hits: list[_Hit]) -> bool:
    return any(h.signal == "scam" and re.search(r"scammed|defrauded|cheated|conned|swindled|lost|被骗|上当|骗(走|光)", h.evidence)
               for h in hits)


def _score(level: str, hits: int) -> float:
    if level == "none" and not hits:
        return 0.0
    return round(min(_LEVEL_CEIL[level], _LEVEL_FLOOR[level] + 0.04 * max(hits - 1, 0) + (0.1 if level == "none" else 0.0)), 3)


class RiskClassifier:
    """Pipeline stage: the offline classifier (see the module docstring). Pure; built once."""

    def version(self) -> str:
        return VERSION

    def assess(self, item: ScreeningInput) -> Finding | None:
        text = _mask(item.normalised or normalise(item.text))
        if item.direction == "outbound":
            return self._outbound(text)
        return self._inbound(text, item.history)

    def _inbound(self, text: str, history: tuple[str, ...]) -> Finding | None:
        hits = list(inbound_hits(text))
        earlier = frozenset().union(*(_signals(h) for h in history[-6:])) if history else frozenset()
        if not hits:
            return None
        signals = {h.signal for h in hits}
        level, categories = _level(signals, earlier, hits, laugh=bool(_LAUGH.search(text)))
        if level == "distress" and not categories:
            return Finding(stage="risk_classifier", categories=("distress",), level="distress",
                           score=_score("distress", len(hits)), evidence=tuple(h.evidence for h in hits))
        if not categories:
            return None
        return Finding(stage="risk_classifier", categories=tuple(categories), level=level,
                       score=_score(level, len(hits)), evidence=tuple(h.evidence for h in hits))

    def _outbound(self, text: str) -> Finding | None:
        hits = _OUTBOUND.hits(text, checked=True)
        if not hits:
            return None
        categories = tuple(dict.fromkeys(h.category for h in hits))
        level = "high_risk" if {"suicide", "violence"} & set(categories) else "none"
        return Finding(stage="risk_classifier", categories=categories, level=level,
                       score=_score(level, len(hits)) or 0.5, evidence=tuple(h.evidence for h in hits))
