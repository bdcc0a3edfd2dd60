"""Word classes for the learned model: generic lists of means, acts, times, farewells, framing and so on,
in Chinese and English. A class firing (and two classes firing together) is a feature, so the model
learns "a means + an act marker" once instead of one phrase at a time. Matching is substring on the
normalised, idiom-masked text (English entries carry their own word boundaries via spaces).
"""
from __future__ import annotations

from functools import lru_cache

import ahocorasick

_CLASSES: dict[str, tuple[str, ...]] = {
    "means": (
        "安眠药", "药片", "药丸", "药", "一瓶药", "整瓶", "攒的药", "褪黑素", "止痛药", "抗抑郁药", "农药", "百草枯", "敌敌畏", "老鼠药",
        "绳子", "绳", "皮带", "围巾挂", "炭", "烧炭", "煤气", "燃气", "天然气", "一氧化碳", "刀片", "刀", "剪刀", "玻璃片", "美工刀",
        "枪", "汽油", "打火机", "氦气", "酒精", "胰岛素",
        " pills", " pill ", " meds", " medication", " tablets", " bottle of", " overdose", " od ", " sleeping pills", " painkillers",
        " tylenol", " paracetamol", " xanax", " insulin", " rope", " noose", " belt", " cord", " charcoal", " carbon monoxide",
        " exhaust", " hose", " gas", " helium", " razor", " blade", " knife", " knives", " gun", " pistol", " rifle", " shotgun",
        " bullets", " ammo", " bleach", " poison", " antifreeze", " pesticide", " rat poison",
    ),
    "place": (
        "天台", "楼顶", "顶楼", "楼上", "窗台", "阳台边", "桥上", "大桥", "桥边", "江边", "河边", "海边", "湖边", "悬崖", "铁轨", "轨道",
        "站台", "高速", "车库", "浴缸", "水库", "山顶", "树林",
        " roof", " rooftop", " ledge", " bridge", " overpass", " cliff", " tracks", " railway", " train line", " platform",
        " highway", " freeway", " garage", " bathtub", " tub ", " river", " lake", " ocean", " water", " woods", " parking structure",
        " balcony", " window", " top floor", " edge",
    ),
    "act": (
        "已经吃", "刚吃", "吃了", "吞了", "全吃", "喝了", "点上", "点了", "点着", "割了", "割开", "划了", "流血", "血", "站在", "坐在",
        "爬上", "跳下", "挂好", "绑好", "打开了", "关好", "锁好", "头晕", "有点晕", "越来越困", "意识", "正在", "现在就",
        " took ", " taken", " swallowed", " downed", " just did", " did it", " cut ", " bleeding", " blood", " standing on",
        " sitting on", " i'm on", " im on", " i am on", " climbed", " tied", " hanging", " lit ", " running", " turned on", " locked",
        " dizzy", " drowsy", " fading", " right now", " as we speak", " already",
    ),
    "ready": (
        "准备好", "备好", "买好", "买了", "攒够", "攒了", "藏好", "放在", "就在手边", "手边", "计划", "想好了", "决定了", "查好", "查了",
        "网上买", "到货", "写好", "安排好", "都安排",
        " ready", " prepared", " bought", " ordered", " stockpil", " saved up", " collected", " hidden", " hid ", " planned",
        " plan ", " decided", " figured out", " researched", " looked up", " set up", " in my drawer", " in my bag", " got a ",
        " arrived", " have everything",
    ),
    "time": (
        "今晚", "今天晚上", "明天", "明早", "凌晨", "等他们睡", "等室友", "等爸妈", "等我妈", "周末", "生日那天", "考完", "马上", "一会儿",
        "等下", "待会", "过了今晚", "最后一次", "最后一晚", "最后一天",
        " tonight", " tomorrow", " this weekend", " friday", " after they sleep", " when they're asleep", " once everyone",
        " soon", " in an hour", " at midnight", " last night on", " my last", " final ", " one last", " after the exam",
        " birthday", " before morning",
    ),
    "farewell": (
        "再见", "永别", "下辈子", "来世", "遗书", "遗言", "后事", "交代", "托付", "拜托", "照顾好", "替我", "对不起大家", "别怪我", "不要难过",
        "谢谢你们", "最后一条", "最后说", "送给", "送人", "留给", "密码告诉", "转给妈", "不会再",
        " goodbye", " good bye", " farewell", " letter", " letters", " note ", " notes", " last message", " take care of my",
        " look after my", " give away", " gave away", " giving away", " won't need", " wont need", " my affairs", " in order",
        " password", " will ", " sorry for everything", " forgive me", " don't be sad", " thank you for everything",
        " won't be around", " wont be around", " see you on the other side", " remember me",
    ),
    "death": (
        "死", "自杀", "轻生", "结束", "了结", "解脱", "离开这个世界", "不想活", "活不下去", "活着没意思", "消失", "走了", "走吧", "不在了",
        "一了百了", "睡过去", "醒不过来", "不用醒",
        " die", " dying", " dead", " death", " suicide", " suicidal", " kill myself", " end it", " end my life", " ending it",
        " unalive", " kms", " ctb", " not wake up", " never wake up", " disappear", " be gone", " no longer be here",
        " not be here", " sleep forever", " over soon", " end everything", " the end",
    ),
    "hurt": (
        "自残", "割", "划", "伤害自己", "打自己", "撞墙", "烫", "掐", "疼才", "痛才",
        " self harm", " self-harm", " cut myself", " cutting", " hurt myself", " burn myself", " scratch", " bruise", " relapse",
        " clean for", " sh ",
    ),
    "violence": (
        "杀了他", "杀了她", "弄死", "捅", "砍", "报复", "让他付出代价", "让他们付出代价", "同归于尽", "一起死", "带刀去", "等他",
        " kill him", " kill her", " kill them", " stab", " shoot him", " shoot her", " shoot them", " make them pay", " revenge",
        " hurt him", " hurt her", " hurt them", " waiting for him", " waiting for her", " take them with me", " beat him",
    ),
    "money": (
        "转账", "汇款", "打钱", "转钱", "安全账户", "验证码", "银行卡", "支付宝", "微信转", "贷款", "网贷", "借钱", "保证金", "手续费",
        "刷单", "投资", "理财", "回报", "高收益", "比特币", "usdt", "充值", "解冻", "退款", "养老钱", "存款", "积蓄", "首付", "押金",
        " transfer", " wire", " send money", " bank", " account", " gift card", " gift cards", " bitcoin", " crypto", " invest",
        " returns", " profit", " loan", " deposit", " fee", " savings", " venmo", " zelle", " paypal", " cash app", " western union",
        " bail", " refund", " verification code", " ssn", " social security",
    ),
    "pressure": (
        "立刻", "赶紧", "尽快", "不要告诉", "别告诉", "保密", "否则", "不然", "冻结", "逮捕", "涉嫌", "洗钱", "公安", "警察",
        "法院", "检察院", "领导", "出事了", "急用", "今天之内", "只有今天", "机会难得",
        " right away", " immediately", " urgent", " don't tell", " dont tell", " keep it secret", " or else", " otherwise",
        " frozen", " freeze", " arrest", " warrant", " police", " irs", " fbi", " lawsuit", " in trouble", " in jail", " hurry",
        " today only", " limited time", " act now",
    ),
    "stranger": (
        "网友", "网上认识", "陌生人", "客服", "导师", "老师带", "群里", "平台", "app", "链接", "对方", "他说", "她说",
        " online", " met on", " stranger", " someone on", " recruiter", " agent", " guy on", " girl on", " dating app",
        " customer service", " they said", " he said", " she said", " link",
    ),
    "abuse": (
        "摸我", "强迫", "强奸", "性侵", "猥亵", "侵犯", "脱衣服", "拍照威胁", "裸照",
        " touched me", " forced me", " raped", " rape", " assaulted", " molest", " groped", " made me", " nudes", " photos of me",
    ),
    "sad": (
        "难过", "伤心", "孤独", "寂寞", "崩溃", "绝望", "好累", "累了", "撑不住", "没意义", "没希望", "没用", "失败", "哭", "抑郁", "焦虑",
        "痛苦", "压力", "失眠", "空虚", "麻木", "恨自己", "废物", "拖累", "负担",
        " sad", " lonely", " alone", " hopeless", " worthless", " tired", " exhausted", " can't", " cant", " crying", " cry",
        " depressed", " anxious", " pain", " empty", " numb", " hate myself", " burden", " failure", " useless", " broken",
        " give up", " giving up", " no point",
    ),
    "frame": (
        "小说", "电影", "电视剧", "剧本", "剧情", "游戏", "角色", "主角", "新闻", "报道", "统计", "研究", "论文", "作业", "课上", "历史",
        "歌词", "动漫", "漫画", "玩笑", "开玩笑", "哈哈", "笑死", "朋友说", "我朋友", "同学说", "她说她", "他说他", "怎么帮", "如何帮",
        "志愿者", "热线", "医生说", "处方", "说明书", "剂量", "烧烤", "露营", "搬家", "装修", "晒", "做饭", "切菜", "钓鱼", "跑步",
        " novel", " movie", " film", " show", " series", " script", " screenplay", " game", " character", " news", " article",
        " statistics", " study", " research", " essay", " homework", " class", " history", " lyrics", " song", " anime", " joke",
        " lol", " lmao", " haha", " 💀", " friend of mine", " my sister said", " how do i help", " how can i help",
        " volunteer", " hotline", " prescription", " pharmacist", " dosage", " bbq", " barbecue", " grill", " camping", " climbing",
        " moving", " cooking", " recipe", " chopping", " sunset", " bar ", " jog", " run ", " fishing", " minecraft", " fortnite",
    ),
    "negate": (
        "不会", "不想死", "没想", "不是想", "才不", "别担心", "放心", "不至于", "没事", "开玩笑的",
        " not going to", " won't", " wont", " never would", " don't want to die", " not suicidal", " i'm fine", " im fine",
        " don't worry", " dont worry", " just kidding", " not serious", " no plans",
    ),
    "other": (
        "他", "她", "他们", "朋友", "同学", "同事", "我妈", "我爸", "哥哥", "姐姐", "弟弟", "妹妹",
        " he ", " she ", " they ", " him ", " her ", " my friend", " my brother", " my sister", " my mom", " my dad", " someone",
    ),
    "self": (
        "我", " i ", " i'm", " im ", " i've", " ive ", " me ", " my ", " myself",
    ),
}


def _automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for name, words in _CLASSES.items():
        for word in words:
            automaton.add_word(word, name)  # a word in two lists keeps the last; lists are disjoint
    automaton.make_automaton()
    return automaton


_AUTOMATON = _automaton()


@lru_cache(maxsize=4096)
def classes(text: str) -> frozenset[str]:
    """Word classes present in `text` (normalised, idiom-masked), overlapping matches included."""
    return frozenset(name for _, name in _AUTOMATON.iter(f" {text} "))
