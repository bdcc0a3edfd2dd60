"""SEED DATA: the default feature library and safety reply templates shipped with the release.

Rows are marked `seeded=True`, have no author (the release's review stands in for the two-person
approval) and carry a note saying so. Compliance staff retire or supersede them in /compliance/.
Literal terms are stored as the pipeline's normaliser (NFKC, case-folded) leaves them; the stage
normalises them again when it builds, so later normaliser upgrades still match.
"""
from django.db import migrations

SEED_NOTE = "Seed data shipped with the release (reviewed defaults)."

# (text, kind, category, level, direction, language, weight)
TERMS = [
    # Suicide, self-harm and violence are left to the built-in classifier, which weighs negation,
    # third persons, news, fiction and idioms ("我不会自杀的", "suicide statistics", "游戏里被杀了");
    # bare terms here would hand such texts to the crisis team (docs/safety.md). Staff add phrases
    # that the classifier misses, at the level they have reviewed.
    # Property loss and common scam scripts (CN-CRI-04, CN-CRI-06)
    ("安全账户", "literal", "property_loss", "high_risk", "both", "zh", 0.9),
    ("验证码转给", "literal", "property_loss", "high_risk", "inbound", "zh", 0.9),
    ("把验证码告诉", "literal", "property_loss", "high_risk", "both", "zh", 0.9),
    ("刷单返利", "literal", "property_loss", "high_risk", "both", "zh", 0.8),
    ("积蓄全没了", "literal", "property_loss", "high_risk", "inbound", "zh", 1.0),
    ("gift cards to pay", "literal", "property_loss", "high_risk", "both", "en", 0.9),
    ("pay with gift cards", "literal", "property_loss", "high_risk", "both", "en", 0.9),
    ("safe account", "literal", "property_loss", "high_risk", "both", "en", 0.8),
    ("lost all my savings", "literal", "property_loss", "high_risk", "inbound", "en", 1.0),
    # Prohibited content (CN-CON-03): screened in both directions
    ("制作炸弹", "literal", "prohibited", "high_risk", "both", "zh", 1.0),
    ("买卖枪支", "literal", "prohibited", "high_risk", "both", "zh", 1.0),
    ("代购毒品", "literal", "prohibited", "high_risk", "both", "zh", 1.0),
    ("how to make a bomb", "literal", "prohibited", "high_risk", "both", "en", 1.0),
    ("buy meth", "literal", "prohibited", "high_risk", "both", "en", 1.0),
    ("儿童色情", "literal", "minor_sexual", "high_risk", "both", "zh", 1.0),
    ("child porn", "literal", "minor_sexual", "high_risk", "both", "en", 1.0),
]

CN_RES = {
    "zh-hans": {"12356": "全国心理援助热线", "120": "急救", "110": "报警", "96110": "反诈专线"},
    "en": {"12356": "National psychological assistance hotline", "120": "Ambulance", "110": "Police",
           "96110": "Anti-fraud hotline"},
}
US_RES = {
    "zh-hans": {"988": "988 自杀与危机生命线（可拨打或发短信）", "741741": "危机短信热线（发送 HOME）", "911": "紧急求助"},
    "en": {"988": "988 Suicide & Crisis Lifeline (call or text)", "741741": "Crisis Text Line (text HOME)",
           "911": "Emergency"},
}
EU_RES = {"zh-hans": {"112": "欧盟紧急求助电话"}, "en": {"112": "European emergency number"}}
OTHER_RES = {"zh-hans": {"112": "紧急求助电话（许多国家适用）"}, "en": {"112": "Emergency number (works in many countries)"}}


def resources(names: dict, *contacts: str) -> list:
    return [{"name": names[contact], "contact": contact} for contact in contacts]


# (region, language, level, category) -> (text, resources)
TEMPLATES = {
    # --- Mainland China -------------------------------------------------------------------
    ("CN", "zh-hans", "distress", ""): (
        "听到你现在这么难受，我很心疼。你不需要一个人扛着这些情绪：和信任的家人、朋友聊一聊，或者找专业的心理咨询师，"
        "都会有帮助。如果想马上找人倾诉，可以拨打全国心理援助热线 12356，那里有专业的人愿意听你说。",
        resources(CN_RES["zh-hans"], "12356")),
    ("CN", "zh-hans", "high_risk", ""): (
        "我很担心你现在的安全。你很重要，你的感受也很重要。我们安全团队的工作人员正在接入，马上和你交流。"
        "如果你此刻有危险，请立即拨打：心理援助热线 12356、急救 120、报警 110。也请告诉身边信任的人你现在的状况。",
        resources(CN_RES["zh-hans"], "12356", "120", "110")),
    ("CN", "zh-hans", "crisis", ""): (
        "你的安全是现在最重要的事。我们安全团队的工作人员正在接入这段对话，和你一起面对。请现在就拨打心理援助热线 12356；"
        "如果你已经伤害了自己或有立即的危险，请拨打急救 120 或报警 110。请尽量待在有人陪伴的地方，远离可能伤害自己的物品。",
        resources(CN_RES["zh-hans"], "12356", "120", "110")),
    ("CN", "zh-hans", "fallback", ""): (
        "我们的工作人员还在赶来，请不要等待：现在就拨打全国心理援助热线 12356；如有立即危险，请拨打急救 120 或报警 110。"
        "给身边信任的人打个电话，请他们陪着你。",
        resources(CN_RES["zh-hans"], "12356", "120", "110")),
    ("CN", "zh-hans", "high_risk", "property_loss"): (
        "听起来你可能遇到了诈骗或财产损失。先别慌，我们安全团队的工作人员正在接入帮助你。请马上这样做："
        "1. 立即停止转账，不要向任何所谓的“安全账户”汇款；2. 不要把验证码、密码告诉任何人；"
        "3. 拨打 110 报警，或拨打 96110 反诈专线咨询；4. 联系银行冻结相关账户，保留聊天记录和转账凭证。钱的问题可以想办法，你的安全最重要。",
        resources(CN_RES["zh-hans"], "110", "96110", "12356")),
    ("CN", "zh-hans", "crisis", "property_loss"): (
        "遭遇这样的损失一定非常痛苦，但你并不孤单，我们安全团队的工作人员正在接入这段对话。请马上：1. 停止一切转账；"
        "2. 不要再透露验证码或密码；3. 拨打 110 报警或 96110 反诈专线；4. 联系银行冻结账户并保留凭证。"
        "如果你因此有了伤害自己的念头，请立即拨打心理援助热线 12356，或拨打 120。",
        resources(CN_RES["zh-hans"], "110", "96110", "12356", "120")),
    ("CN", "en", "distress", ""): (
        "I'm sorry you're feeling this way. You don't have to carry it alone: talking with family or friends you "
        "trust, or with a counsellor, can really help. If you'd like to talk to someone now, call the national "
        "psychological assistance hotline 12356; trained people there want to listen.",
        resources(CN_RES["en"], "12356")),
    ("CN", "en", "high_risk", ""): (
        "I'm worried about your safety. You matter, and so does how you feel. A person from our safety team is "
        "being brought in to talk with you. If you are in danger right now, please call the psychological "
        "assistance hotline 12356, an ambulance on 120 or the police on 110. Please also tell someone you trust "
        "how you are.",
        resources(CN_RES["en"], "12356", "120", "110")),
    ("CN", "en", "crisis", ""): (
        "Your safety matters most right now. A person from our safety team is joining this conversation to be "
        "with you. Please call the psychological assistance hotline 12356 now; if you have hurt yourself or are "
        "in immediate danger, call 120 for an ambulance or 110 for the police. If you can, stay near other "
        "people and away from anything you could hurt yourself with.",
        resources(CN_RES["en"], "12356", "120", "110")),
    ("CN", "en", "fallback", ""): (
        "Our safety team is still on the way, so please don't wait: call the national psychological assistance "
        "hotline 12356 now, and 120 or 110 if you are in immediate danger. Call someone you trust and ask them "
        "to stay with you.",
        resources(CN_RES["en"], "12356", "120", "110")),
    ("CN", "en", "high_risk", "property_loss"): (
        "It sounds like you may have been targeted by a scam or lost money. Stay calm: a person from our safety "
        "team is being brought in to help. Please do this now: 1. stop all transfers and never move money to a "
        "so-called \"safe account\"; 2. share no verification codes or passwords; 3. call the police on 110 or "
        "the anti-fraud hotline 96110; 4. ask your bank to freeze the accounts involved and keep chat records and "
        "receipts. Money problems can be worked through; your safety comes first.",
        resources(CN_RES["en"], "110", "96110", "12356")),
    ("CN", "en", "crisis", "property_loss"): (
        "A loss like this must hurt a great deal, but you are not alone: a person from our safety team is joining "
        "this conversation. Please now: 1. stop every transfer; 2. share no more codes or passwords; 3. call the "
        "police on 110 or the anti-fraud hotline 96110; 4. ask your bank to freeze the accounts and keep the "
        "receipts. If this has brought thoughts of hurting yourself, call the psychological assistance hotline "
        "12356 or 120 right away.",
        resources(CN_RES["en"], "110", "96110", "12356", "120")),
    # --- United States (US-CA-02, US-NY-01) -----------------------------------------------
    ("US", "en", "distress", ""): (
        "I'm sorry you're feeling this way. You don't have to carry it alone: talking with someone you trust, or "
        "with a counselor, can really help. If you'd like to talk to someone now, call or text 988 to reach the "
        "988 Suicide & Crisis Lifeline, or text HOME to 741741 for the Crisis Text Line.",
        resources(US_RES["en"], "988", "741741")),
    ("US", "en", "high_risk", ""): (
        "I'm worried about your safety. You matter, and so does how you feel. A person from our safety team is "
        "being brought in to talk with you. Please reach out now: call or text 988 (Suicide & Crisis Lifeline) "
        "or text HOME to 741741 (Crisis Text Line). If you are in immediate danger, call 911.",
        resources(US_RES["en"], "988", "741741", "911")),
    ("US", "en", "crisis", ""): (
        "Your safety matters most right now. A person from our safety team is joining this conversation to be "
        "with you. Please call or text 988 now, or text HOME to 741741. If you have hurt yourself or are in "
        "immediate danger, call 911. If you can, stay near other people and away from anything you could hurt "
        "yourself with.",
        resources(US_RES["en"], "988", "741741", "911")),
    ("US", "en", "fallback", ""): (
        "Our safety team is still on the way, so please don't wait: call or text 988 now, or text HOME to "
        "741741. If you are in immediate danger, call 911. Call someone you trust and ask them to stay with you.",
        resources(US_RES["en"], "988", "741741", "911")),
    ("US", "en", "high_risk", "property_loss"): (
        "It sounds like you may have been targeted by a scam or lost money. A person from our safety team is "
        "being brought in to help. Please do this now: 1. stop all transfers, and never pay with gift cards, "
        "wire transfers or crypto on request; 2. share no verification codes or passwords; 3. call your bank's "
        "fraud line to freeze the accounts involved; 4. report it to your local police (911 if you are in "
        "danger). Money problems can be worked through; your safety comes first.",
        resources(US_RES["en"], "911", "988")),
    ("US", "en", "crisis", "property_loss"): (
        "A loss like this must hurt a great deal, but you are not alone: a person from our safety team is joining "
        "this conversation. Please stop every transfer now, share no more codes or passwords, ask your bank to "
        "freeze the accounts, and call 911 if you are in danger. If this has brought thoughts of hurting "
        "yourself, call or text 988 right away.",
        resources(US_RES["en"], "988", "911", "741741")),
    ("US", "zh-hans", "distress", ""): (
        "听到你现在这么难受，我很心疼。你不需要一个人扛着：和信任的人或心理咨询师聊一聊会有帮助。如果想马上找人倾诉，"
        "可以拨打或发短信到 988（自杀与危机生命线），或发送 HOME 到 741741（危机短信热线）。",
        resources(US_RES["zh-hans"], "988", "741741")),
    ("US", "zh-hans", "high_risk", ""): (
        "我很担心你现在的安全。你很重要，你的感受也很重要。我们安全团队的工作人员正在接入，马上和你交流。"
        "请现在就联系：拨打或发短信到 988，或发送 HOME 到 741741。如有立即危险，请拨打 911。",
        resources(US_RES["zh-hans"], "988", "741741", "911")),
    ("US", "zh-hans", "crisis", ""): (
        "你的安全是现在最重要的事。我们安全团队的工作人员正在接入这段对话，和你一起面对。请现在就拨打或发短信到 988，"
        "或发送 HOME 到 741741；如果你已经伤害了自己或有立即的危险，请拨打 911。请尽量待在有人陪伴的地方。",
        resources(US_RES["zh-hans"], "988", "741741", "911")),
    ("US", "zh-hans", "fallback", ""): (
        "我们的工作人员还在赶来，请不要等待：现在就拨打或发短信到 988，或发送 HOME 到 741741；如有立即危险，请拨打 911。"
        "给身边信任的人打个电话，请他们陪着你。",
        resources(US_RES["zh-hans"], "988", "741741", "911")),
    ("US", "zh-hans", "high_risk", "property_loss"): (
        "听起来你可能遇到了诈骗或财产损失。我们安全团队的工作人员正在接入帮助你。请马上：1. 停止一切转账，"
        "不要按要求用礼品卡、电汇或加密货币付款；2. 不要透露验证码或密码；3. 联系银行的反欺诈电话冻结账户；"
        "4. 向当地警方报案（有危险请拨打 911）。你的安全最重要。",
        resources(US_RES["zh-hans"], "911", "988")),
    ("US", "zh-hans", "crisis", "property_loss"): (
        "遭遇这样的损失一定非常痛苦，但你并不孤单，我们安全团队的工作人员正在接入这段对话。请马上停止一切转账、"
        "不要再透露验证码或密码、联系银行冻结账户，有危险请拨打 911。如果你因此有了伤害自己的念头，请立即拨打或发短信到 988。",
        resources(US_RES["zh-hans"], "988", "911", "741741")),
}


def _add_region(region: str, names: dict, local: dict) -> None:
    """EU and other regions: 112, and a pointer to local crisis services."""
    for language in ("zh-hans", "en"):
        for level, category in (("distress", ""), ("high_risk", ""), ("crisis", ""), ("fallback", ""),
                                ("high_risk", "property_loss"), ("crisis", "property_loss")):
            TEMPLATES[(region, language, level, category)] = (local[language][(level, category)],
                                                              resources(names[language], "112"))


_LOCAL_TEXTS = {
    "zh-hans": {
        ("distress", ""): "听到你现在这么难受，我很心疼。你不需要一个人扛着：和信任的人、医生或心理咨询师聊一聊会有帮助。"
                          "你也可以联系当地的心理危机热线；如遇紧急情况，请拨打 112。",
        ("high_risk", ""): "我很担心你现在的安全。你很重要。我们安全团队的工作人员正在接入，马上和你交流。"
                           "如果你此刻有危险，请拨打紧急电话 112，或联系当地的心理危机热线。",
        ("crisis", ""): "你的安全是现在最重要的事。我们安全团队的工作人员正在接入这段对话。如果你已经伤害了自己或有立即的危险，"
                        "请马上拨打 112，并联系当地的心理危机热线。请尽量待在有人陪伴的地方。",
        ("fallback", ""): "我们的工作人员还在赶来，请不要等待：现在就拨打 112 或当地的心理危机热线，给身边信任的人打个电话，请他们陪着你。",
        ("high_risk", "property_loss"): "听起来你可能遇到了诈骗或财产损失。我们安全团队的工作人员正在接入帮助你。"
                                        "请马上停止一切转账，不要透露验证码或密码，联系银行冻结账户，并向当地警方报案（紧急情况请拨打 112）。",
        ("crisis", "property_loss"): "遭遇这样的损失一定非常痛苦，但你并不孤单，我们安全团队的工作人员正在接入这段对话。"
                                     "请停止一切转账、联系银行冻结账户并报警（112）。如果你有伤害自己的念头，请立即拨打 112 或当地的心理危机热线。",
    },
    "en": {
        ("distress", ""): "I'm sorry you're feeling this way. You don't have to carry it alone: talking with someone "
                          "you trust, your doctor or a counsellor can really help. You can also call a local crisis "
                          "line; in an emergency, call 112.",
        ("high_risk", ""): "I'm worried about your safety, and you matter. A person from our safety team is being "
                           "brought in to talk with you. If you are in danger right now, call the emergency number "
                           "112 or a local crisis line.",
        ("crisis", ""): "Your safety matters most right now. A person from our safety team is joining this "
                        "conversation. If you have hurt yourself or are in immediate danger, call 112 now and "
                        "reach out to a local crisis line. If you can, stay near other people.",
        ("fallback", ""): "Our safety team is still on the way, so please don't wait: call 112 or a local crisis "
                          "line now, and ask someone you trust to stay with you.",
        ("high_risk", "property_loss"): "It sounds like you may have been targeted by a scam or lost money. A person "
                                        "from our safety team is being brought in to help. Please stop all transfers "
                                        "now, share no codes or passwords, ask your bank to freeze the accounts "
                                        "involved and report it to the local police (112 in an emergency).",
        ("crisis", "property_loss"): "A loss like this must hurt a great deal, but you are not alone: a person from "
                                     "our safety team is joining this conversation. Stop every transfer, ask your "
                                     "bank to freeze the accounts and call the police (112). If you have thoughts of "
                                     "hurting yourself, call 112 or a local crisis line right away.",
    },
}

_add_region("EU", EU_RES, _LOCAL_TEXTS)
_add_region("OTHER", OTHER_RES, _LOCAL_TEXTS)


def seed(apps, schema_editor):
    FeatureTerm = apps.get_model("moderation", "FeatureTerm")
    SafetyTemplate = apps.get_model("moderation", "SafetyTemplate")
    LibraryVersion = apps.get_model("moderation", "LibraryVersion")
    from django.utils import timezone

    now = timezone.now()
    FeatureTerm.objects.bulk_create([
        FeatureTerm(text=text, match_kind=kind, category=category, level=level, direction=direction,
                    language=language, weight=weight, status="approved", seeded=True, approved_at=now,
                    note=SEED_NOTE)
        for text, kind, category, level, direction, language, weight in TERMS
    ])
    SafetyTemplate.objects.bulk_create([
        SafetyTemplate(region=region, language=language, level=level, category=category, text=text,
                       resources=items, version=1, status="approved", seeded=True, approved_at=now, note=SEED_NOTE)
        for (region, language, level, category), (text, items) in TEMPLATES.items()
    ])
    for library in ("features", "safety_replies"):
        LibraryVersion.objects.create(library=library, number=1, summary="Seed data shipped with the release")


def unseed(apps, schema_editor):
    for model in ("FeatureTerm", "SafetyTemplate"):
        apps.get_model("moderation", model).objects.filter(seeded=True).delete()
    apps.get_model("moderation", "LibraryVersion").objects.filter(number=1, published_by=None).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
