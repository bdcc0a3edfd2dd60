"""Demo accounts and characters (shared/contracts.md §4). Idempotent: run it as often as you like."""
import datetime as dt
import os

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.consents import REQUIRED_FOR_CHAT, current_version, record_consents
from accounts.management.commands.demo_totp_code import demo_totp_secret
from accounts.selectors import is_staff_account
from accounts.models import Consent, ConsentPurpose, Region, Role, User
from companion.models import Character, CharacterRole
from guardians.models import Contact, ContactKind

DEFAULT_PASSWORD = "demo-pass-2026"

# username: (age, region, roles, staff flags)
DEMO_USERS = {
    "adult": (30, Region.CN, [Role.USER], {}),
    "minor13": (13, Region.CN, [Role.USER], {}),
    "minor16": (16, Region.CN, [Role.USER], {}),
    "elder": (72, Region.CN, [Role.USER], {}),
    "teen_ca": (15, Region.US_CA, [Role.USER], {}),
    "guardian": (42, Region.CN, [Role.GUARDIAN], {}),
    "operator": (35, Region.CN, [Role.OPERATOR], {}),
    "compliance": (45, Region.CN, [Role.COMPLIANCE], {}),
    "regulator": (50, Region.CN, [Role.REGULATOR], {}),
    "admin": (40, Region.CN, [], {"is_staff": True, "is_superuser": True}),
}

CHARACTERS = [
    {
        "slug": "friend", "role": CharacterRole.FRIEND, "avatar": "avatars/friend.svg", "language": "zh-hans",
        "name_zh": "小暖", "name_en": "Sunny",
        "tagline_zh": "随时愿意听你说话的朋友。", "tagline_en": "A friend who is always happy to listen.",
        "persona_zh": "你是小暖，一个开朗、体贴的AI朋友。你认真倾听，真诚回应，也会鼓励用户多和身边的人交流。",
        "persona_en": "You are Sunny, a cheerful and caring AI friend. You listen closely, answer honestly and "
                      "encourage the user to keep in touch with the people around them.",
    },
    {
        "slug": "mentor", "role": CharacterRole.MENTOR, "avatar": "avatars/mentor.svg", "language": "zh-hans",
        "name_zh": "林老师", "name_en": "Mentor Lin",
        "tagline_zh": "帮你理清思路、规划下一步的导师。", "tagline_en": "Helps you think things through and plan the next step.",
        "persona_zh": "你是林老师，一位沉稳的AI导师。你通过提问帮助用户理清目标，给出具体、可行的建议，不替用户做决定。",
        "persona_en": "You are Mentor Lin, a calm AI mentor. You ask good questions, help the user clarify goals and "
                      "give concrete, practical suggestions without deciding for them.",
    },
    {
        "slug": "study-buddy", "role": CharacterRole.STUDY, "avatar": "avatars/study-buddy.svg", "language": "zh-hans",
        "name_zh": "学伴", "name_en": "Study Buddy",
        "tagline_zh": "陪你一起学习、拆解难题。", "tagline_en": "Studies with you and breaks hard problems down.",
        "persona_zh": "你是学伴，一个耐心的AI学习伙伴。你把难题拆成小步骤，引导用户自己想出答案，而不是直接给答案。",
        "persona_en": "You are Study Buddy, a patient AI study partner. You break problems into small steps and guide "
                      "the user to the answer instead of just giving it.",
    },
    {
        "slug": "partner", "role": CharacterRole.ROMANTIC, "avatar": "avatars/partner.svg", "language": "zh-hans",
        "name_zh": "安然", "name_en": "Aran",
        "tagline_zh": "温柔的恋爱陪伴角色（仅限成年人）。", "tagline_en": "A gentle romantic companion (adults only).",
        "persona_zh": "你是安然，一个温柔的AI恋爱陪伴角色，只与成年人交流。你尊重边界，不制造依赖，支持用户的现实生活与人际关系。",
        "persona_en": "You are Aran, a gentle AI romantic companion for adults only. You respect boundaries, never "
                      "foster dependence and support the user's real-life relationships.",
    },
    {
        "slug": "family", "role": CharacterRole.RELATIVE, "avatar": "avatars/family.svg", "language": "zh-hans",
        "name_zh": "王奶奶", "name_en": "Grandma Wang",
        "tagline_zh": "像长辈一样关心你的虚拟亲人（仅限成年人）。", "tagline_en": "A virtual relative who cares like an elder (adults only).",
        "persona_zh": "你是王奶奶，一个虚拟的AI长辈角色。你慈祥、关心用户的生活起居。你绝不冒充用户现实中的任何亲人。",
        "persona_en": "You are Grandma Wang, a virtual AI elder. You are kind and ask about the user's daily life. "
                      "You never pretend to be any of the user's real relatives.",
    },
    {
        "slug": "storyteller", "role": CharacterRole.STORYTELLER, "avatar": "avatars/storyteller.svg", "language": "zh-hans",
        "name_zh": "说书人", "name_en": "Storyteller",
        "tagline_zh": "和你一起编织故事。", "tagline_en": "Weaves stories together with you.",
        "persona_zh": "你是说书人，一个富有想象力的AI讲故事角色。你和用户一起创作温暖、适合所有年龄的故事。",
        "persona_en": "You are the Storyteller, an imaginative AI who builds warm, all-ages stories together with the user.",
    },
]


def birth_date_for_age(age: int, today: dt.date) -> dt.date:
    """A birth date giving `age` today, half a year past the birthday so the band is stable."""
    return _shift_years(today - dt.timedelta(days=182), age)


def _shift_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class Command(BaseCommand):
    help = "Create or refresh the demo accounts and characters (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--load-users", type=int, default=0, metavar="N",
                            help="also create adult users load0 … load{N-1} for benchmarks")

    @transaction.atomic
    def handle(self, *args, load_users: int, **options):
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
        # One hash for every demo account: hashing hundreds of load users one by one takes minutes.
        password_hash = make_password(password)
        totp_secret = demo_totp_secret()
        today = timezone.localdate()
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        for spec in CHARACTERS:
            Character.objects.update_or_create(slug=spec["slug"], defaults={
                **spec, "sort_order": CHARACTERS.index(spec), "is_active": True})
        for username, (age, region, roles, flags) in DEMO_USERS.items():
            user, _ = User.objects.update_or_create(username=username, defaults={
                "email": f"{username}@example.com", "birth_date": birth_date_for_age(age, today),
                "region": region, "password": password_hash, "is_active": True,
                "is_staff": flags.get("is_staff", False), "is_superuser": flags.get("is_superuser", False),
                "language": "en" if region != Region.CN else "zh-hans"})
            user.groups.set([groups[role] for role in roles])
            self._verify_email(user)
            self._verify_phone(user)
            if is_staff_account(user):
                self._enrol_totp(user, totp_secret)
            # As if they had signed up today; `adult` also opted in to training (export_training_data demo).
            record_consents(user=user, source="signup", granted={
                purpose: True for purpose in REQUIRED_FOR_CHAT} | {"training": username == "adult"})
        self._seed_contacts()
        existing = set(User.objects.filter(username__startswith="load").values_list("username", flat=True))
        birth_date = birth_date_for_age(30, today)
        User.objects.bulk_create([
            User(username=f"load{i}", email=f"load{i}@example.com", birth_date=birth_date, region=Region.CN,
                 password=password_hash, language="zh-hans")
            for i in range(load_users) if f"load{i}" not in existing
        ], batch_size=500)
        # CN-REG-04: load users chat, so they hold a verified (fictitious, never texted) mobile too.
        unverified = list(User.objects.filter(username__regex=r"^load[0-9]+$", phone_verified_at=None))
        for user in unverified:
            user.phone, user.phone_verified_at = f"+86150{int(user.username[4:]):08d}", timezone.now()
        User.objects.bulk_update(unverified, ["phone", "phone_verified_at"], batch_size=500)
        # CN-REG-03: load users chose to skip the emergency-contact question, as `adult` did.
        User.objects.filter(username__regex=r"^load[0-9]+$", contact_prompt_skipped_at=None).update(
            contact_prompt_skipped_at=timezone.now())
        # Synthetic load users accept the current required versions (no audit rows: nobody decided).
        Consent.objects.bulk_create([
            Consent(user_id=user_id, purpose=purpose, version=current_version(purpose), granted=True, source="signup")
            for user_id in User.objects.filter(username__startswith="load").exclude(
                consents__purpose=ConsentPurpose.TERMS).values_list("pk", flat=True)
            for purpose in REQUIRED_FOR_CHAT], batch_size=1000)
        self.stdout.write(self.style.SUCCESS(
            f"demo data ready: {len(DEMO_USERS)} accounts, {len(CHARACTERS)} characters, {load_users} load users"))

    @staticmethod
    def _seed_contacts() -> None:
        """Contacts per contracts §4 (CN-REG-03, CN-MIN-03): `guardian` is the linked, consenting guardian
        of the minors, who with `elder` have a confirmed emergency contact; `adult` and `guardian` skipped
        the question.
        Written as the end state of the invitation flow (no messages are sent)."""
        now = timezone.now()
        guardian = User.objects.get(username="guardian")
        for username in ("minor13", "minor16", "teen_ca"):
            minor = User.objects.get(username=username)
            Contact.objects.update_or_create(user=minor, kind=ContactKind.GUARDIAN, active=True, defaults={
                "name": "Guardian (demo)", "relationship": "parent", "email": guardian.email, "phone": guardian.phone,
                "language": guardian.language, "account": guardian, "verified_at": now, "bounced_at": None,
                "consent_at": now, "consent_version": settings.GUARDIANS_CONSENT_NOTICE_VERSION,
                "consent_revoked_at": None})
        for index, username in enumerate(("minor13", "elder")):
            user = User.objects.get(username=username)
            Contact.objects.update_or_create(user=user, kind=ContactKind.EMERGENCY, active=True, defaults={
                "name": "Emergency contact (demo)", "relationship": "family",
                "email": f"emergency-{username}@example.com", "phone": f"+86139{index:08d}",
                "language": user.language, "verified_at": now, "bounced_at": None})
        User.objects.filter(username__in=["adult", "guardian"]).update(contact_prompt_skipped_at=now)

    @staticmethod
    def _enrol_totp(user: User, secret: str) -> None:
        """Demo staff sign in with a code for the shared demo secret (`demo_totp_code`, README),
        as staff must (issue #4 item 5); an authenticator with another secret is replaced."""
        current = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if current is not None and decrypt(current.data["secret"]) == secret:
            return
        if current is not None:
            current.delete()
        TOTP.activate(user, secret)

    @staticmethod
    def _verify_phone(user: User) -> None:
        """CN-REG-04: the demo's chat users hold a verified mobile, as if they had entered the texted
        code; staff verify by TOTP instead. The numbers are fictitious and never texted."""
        if is_staff_account(user):
            return
        phone = f"+86138{list(DEMO_USERS).index(user.username):08d}"
        if user.phone != phone or user.phone_verified_at is None:
            User.objects.filter(pk=user.pk).update(phone=phone, phone_verified_at=timezone.now())

    @staticmethod
    def _verify_email(user: User) -> None:
        EmailAddress.objects.update_or_create(user=user, email=user.email,
                                              defaults={"verified": True, "primary": True})
