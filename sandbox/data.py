"""Deterministic synthetic bank data for the sandbox: one world per partner and seed.

Every partner gets the same three test customers (`zhang.wei`, `li.na`, `wang.fang`) living in
one of a few cities whose real institutions appear as counterparties. Their ids, numbers,
accounts and 90 days of transactions are drawn from a `random.Random` seeded with a SHA-256 of
partner id and seed, so a world is reproducible across processes (the built-in `hash()` is
salted per process and would not be).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from adapters.contract import Account, AccountStatus, Customer, Money, RiskTolerance, Transaction

CENT = Decimal("0.01")
BANK_BIN = "622848"  # a real debit-card issuer prefix, so numbers look like Chinese bank cards
HISTORY_DAYS = 90
CHINA_TZ = timezone(timedelta(hours=8), "CST")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MOBILE_PREFIXES = ("130", "133", "135", "138", "139", "150", "151", "158", "186", "188", "189")


@dataclass(frozen=True, slots=True)
class City:
    """A city: a district's ID-number area code and the institutions its residents pay."""

    name: str
    area_code: str
    places: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Scene:
    """A kind of transaction: description, counterparty (a place key or literal), amount range."""

    description: str
    counterparty: str
    is_credit: bool
    low: str
    high: str
    step: str = "0.01"
    weight: int = 1

    def amount(self, rng: random.Random) -> Decimal:
        """A random amount in `[low, high]`, a multiple of `step`."""
        step = Decimal(self.step)
        units = rng.randint(int(Decimal(self.low) / step), int(Decimal(self.high) / step))
        return (step * units).quantize(CENT)


@dataclass(frozen=True, slots=True)
class Profile:
    """How an account is used: monthly `(day, months or (), scene)` items and occasional scenes."""

    recurring: tuple[tuple[int, tuple[int, ...], Scene], ...]
    occasional: tuple[Scene, ...]


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One account a test customer may hold and the closing-balance range it aims for."""

    subtype: str
    nickname: str
    profile: Profile
    balance: tuple[int, int]
    status: AccountStatus = AccountStatus.ENABLED
    is_optional: bool = False


@dataclass(frozen=True, slots=True)
class Persona:
    """The fixed traits of a test customer; everything else is drawn per partner."""

    username: str
    full_name: str
    risk_tolerance: RiskTolerance
    is_male: bool
    birth_years: tuple[int, int]
    accounts: tuple[AccountSpec, ...]


def _city(name: str, area_code: str, **places: tuple[str, ...]) -> City:
    return City(name, area_code, places)


CITIES = (
    _city(
        "北京",
        "110105",
        metro=("北京市地铁运营有限公司",),
        hospital=("北京协和医院", "北京大学第一医院", "首都医科大学附属北京朝阳医院"),
        school=("北京市朝阳区实验小学",),
        university=("北京理工大学",),
        utility=("北京市自来水集团", "国网北京市电力公司", "北京市燃气集团"),
        shop=("物美超市", "永辉超市", "庆丰包子铺", "7-ELEVEn便利店"),
    ),
    _city(
        "上海",
        "310115",
        metro=("上海申通地铁集团有限公司",),
        hospital=("复旦大学附属中山医院", "上海交通大学医学院附属瑞金医院", "上海市第六人民医院"),
        school=("上海市浦东新区建平实验小学",),
        university=("同济大学",),
        utility=("上海城投水务集团", "国网上海市电力公司", "上海燃气有限公司"),
        shop=("盒马鲜生", "联华超市", "全家便利店", "小杨生煎"),
    ),
    _city(
        "广州",
        "440106",
        metro=("广州地铁集团有限公司",),
        hospital=("中山大学附属第一医院", "广东省人民医院", "广州市第一人民医院"),
        school=("广州市天河区华阳小学",),
        university=("华南理工大学",),
        utility=("广州市自来水有限公司", "广东电网广州供电局", "广州燃气集团有限公司"),
        shop=("钱大妈", "天虹超市", "点都德", "美宜佳便利店"),
    ),
    _city(
        "成都",
        "510107",
        metro=("成都轨道交通集团有限公司",),
        hospital=("四川大学华西医院", "四川省人民医院", "成都市第三人民医院"),
        school=("成都市武侯实验小学",),
        university=("四川大学",),
        utility=("成都市自来水有限责任公司", "国网成都供电公司", "成都燃气集团股份有限公司"),
        shop=("红旗连锁", "伊藤洋华堂", "舞东风超市", "陈麻婆豆腐"),
    ),
)
_EMPLOYER_WORDS = ("云帆", "青禾", "长风", "星河", "恒信")
_EMPLOYER_TRADES = ("科技", "信息技术", "商贸", "建设工程")

SALARY = Scene("代发工资", "employer", True, "10000", "12000")
PENSION = Scene("养老金", "pension", True, "3200", "4800")
WATER = Scene("水费", "water", False, "30", "120")
POWER = Scene("电费", "power", False, "80", "420")
GAS = Scene("燃气费", "gas", False, "40", "220")
METRO = Scene("地铁充值", "metro", False, "50", "200", step="50", weight=4)
CLINIC = Scene("门诊缴费", "hospital", False, "40", "1200", weight=3)
SHOPPING = Scene("POS消费", "shop", False, "12", "480", weight=8)
TUITION = Scene("学费", "school", False, "2500", "6000", step="100")
ALLOWANCE = Scene("生活费", "李建国", True, "1500", "2500", step="100")
CANTEEN = Scene("食堂消费", "canteen", False, "8", "35", weight=8)
UNI_TUITION = Scene("学费", "university", False, "4500", "6500", step="100")
WORK_STUDY = Scene("勤工助学报酬", "university", True, "300", "800", step="10")
SAVE_IN = Scene("活期转入", "本人活期账户", True, "300", "3000", weight=3)
SAVE_OUT = Scene("转出至活期", "本人活期账户", False, "200", "2000", weight=2)
INTEREST = Scene("结息", "本行", True, "5", "150")

_MONTHLY_BILLS = ((15, (), WATER), (18, (), POWER), (20, (), GAS))
WORKER = Profile(((10, (), SALARY), *_MONTHLY_BILLS), (METRO, CLINIC, SHOPPING, TUITION))
RETIREE = Profile(((25, (), PENSION), *_MONTHLY_BILLS), (CLINIC, SHOPPING, METRO))
STUDENT = Profile(
    ((1, (), ALLOWANCE),), (CANTEEN, METRO, SHOPPING, CLINIC, UNI_TUITION, WORK_STUDY)
)
SAVER = Profile(((21, (3, 6, 9, 12), INTEREST),), (SAVE_IN, SAVE_OUT))  # interest paid quarterly

_FROZEN = AccountStatus.FROZEN
_ZHANG_WEI = (
    AccountSpec("CurrentAccount", "工资卡", WORKER, (10_000, 50_000)),
    AccountSpec("Savings", "储蓄账户", SAVER, (50_000, 200_000)),
)
_LI_NA = (
    AccountSpec("CurrentAccount", "生活费账户", STUDENT, (800, 6_000)),
    AccountSpec("Savings", "零钱储蓄", SAVER, (1_000, 8_000), is_optional=True),
)
_WANG_FANG = (
    AccountSpec("CurrentAccount", "养老金账户", RETIREE, (5_000, 30_000), _FROZEN),
    AccountSpec("Savings", "定活两便", SAVER, (20_000, 80_000), _FROZEN, is_optional=True),
)
PERSONAS = (
    Persona("zhang.wei", "张伟", "C3", True, (1982, 1990), _ZHANG_WEI),
    Persona("li.na", "李娜", "C1", False, (2002, 2005), _LI_NA),
    Persona("wang.fang", "王芳", "C2", False, (1963, 1970), _WANG_FANG),
)
USERNAMES = tuple(p.username for p in PERSONAS)


def seeded_random(partner_id: str, seed: int) -> random.Random:
    """A generator seeded from a SHA-256 of partner id and seed: stable across processes."""
    digest = hashlib.sha256(f"obgw-sandbox\x00{partner_id}\x00{seed}".encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - synthetic data, not secrets


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) of a mainland ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def is_valid_id_number(id_number: str) -> bool:
    """True when `id_number` has 17 digits followed by the correct check character."""
    head = id_number[:17]
    return len(id_number) == 18 and head.isdigit() and id_check_digit(head) == id_number[17]


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit that completes a bank-card number."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def signed(txn: Transaction) -> Decimal:
    """The transaction's effect on the balance: positive for credits, negative for debits."""
    return txn.amount.value if txn.credit_debit == "Credit" else -txn.amount.value


def customer_ref(partner_id: str, username: str) -> str:
    """The core reference of a test customer, namespaced by partner."""
    return f"{partner_id}/cust/{username}"


@dataclass(slots=True)
class AccountBook:
    """An account with its opening balance and its transactions, newest first.

    The booked balance is summed once and kept; `post` is the way to add a transaction.
    """

    account: Account
    opening_balance: Decimal
    transactions: list[Transaction] = field(default_factory=list)
    _booked: Decimal | None = field(default=None, repr=False, compare=False)

    @property
    def booked_balance(self) -> Decimal:
        """The opening balance plus every booked transaction."""
        if self._booked is None:
            booked = sum((signed(t) for t in self.transactions if t.status == "Booked"), CENT * 0)
            self._booked = (self.opening_balance + booked).quantize(CENT)
        return self._booked

    @property
    def pending_debits(self) -> Decimal:
        """What pending debits will take from the balance (not available meanwhile)."""
        return sum(
            (
                t.amount.value
                for t in self.transactions
                if t.status == "Pending" and t.credit_debit == "Debit"
            ),
            CENT * 0,
        )

    def post(self, transaction: Transaction) -> None:
        """Add a transaction (the newest) to the book."""
        self.transactions.insert(0, transaction)
        self._booked = None


@dataclass(slots=True)
class PartnerWorld:
    """All synthetic data of one partner for one seed, keyed by core reference."""

    partner_id: str
    seed: int
    history_end: datetime
    city: City
    customers: dict[str, Customer]
    books: dict[str, AccountBook]


def generate_world(partner_id: str, seed: int, now: datetime) -> PartnerWorld:
    """Build the partner's customers, accounts and the 90 days of transactions before `now`.

    History ends at the start of `now`'s UTC day, so worlds generated the same day are equal.
    """
    rng = seeded_random(partner_id, seed)
    end = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    city = rng.choice(CITIES)
    places = _places(rng, city)
    world = PartnerWorld(partner_id, seed, end, city, {}, {})
    numbers: set[str] = set()
    txn_numbers = itertools.count(1)
    for persona in PERSONAS:
        customer = _customer(rng, partner_id, persona, city)
        world.customers[customer.core_ref] = customer
        for spec in persona.accounts:
            if spec.is_optional and rng.random() < 0.5:
                continue
            account = Account(
                core_ref=f"{partner_id}/acct/{seed}.{len(world.books) + 1}",
                customer_ref=customer.core_ref,
                account_number=_account_number(rng, numbers),
                account_type="Personal",
                account_subtype=spec.subtype,
                nickname=spec.nickname,
                currency="CNY",
                status=spec.status,
                opened_on=end.date() - timedelta(days=rng.randint(400, 3650)),
            )
            transactions = _transactions(rng, world, account, spec, places, txn_numbers)
            opening = _opening_balance(rng, transactions, spec.balance)
            world.books[account.core_ref] = AccountBook(account, opening, transactions[::-1])
    return world


def _places(rng: random.Random, city: City) -> dict[str, tuple[str, ...]]:
    """The city's counterparties, plus a fictional employer and names derived from the city."""
    water, power, gas = city.places["utility"]
    employer = f"{city.name}{rng.choice(_EMPLOYER_WORDS)}{rng.choice(_EMPLOYER_TRADES)}有限公司"
    return {
        **city.places,
        "water": (water,),
        "power": (power,),
        "gas": (gas,),
        "employer": (employer,),
        "canteen": (f"{city.places['university'][0]}学生食堂",),
        "pension": (f"{city.name}市社会保险基金管理中心",),
    }


def _customer(rng: random.Random, partner_id: str, persona: Persona, city: City) -> Customer:
    born = date(rng.randint(*persona.birth_years), 1, 1) + timedelta(days=rng.randrange(365))
    sequence = rng.randrange(0, 998, 2) + persona.is_male  # GB 11643: an odd digit is male
    first17 = f"{city.area_code}{born:%Y%m%d}{sequence:03d}"
    return Customer(
        core_ref=customer_ref(partner_id, persona.username),
        username=persona.username,
        full_name=persona.full_name,
        family_name=persona.full_name[0],  # the test customers' surnames are one character
        risk_tolerance=persona.risk_tolerance,
        kyc_status="Verified",
        id_number=first17 + id_check_digit(first17),
        mobile=f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
    )


def _account_number(rng: random.Random, taken: set[str]) -> str:
    while True:
        partial = f"{BANK_BIN}{rng.randrange(10**12):012d}"
        number = partial + luhn_check_digit(partial)
        if number not in taken:
            taken.add(number)
            return number


def _transactions(
    rng: random.Random,
    world: PartnerWorld,
    account: Account,
    spec: AccountSpec,
    places: dict[str, tuple[str, ...]],
    txn_numbers: Iterator[int],
) -> list[Transaction]:
    """The account's transactions in chronological order; none after a freeze."""
    end = world.history_end
    if spec.status is AccountStatus.FROZEN:
        end -= timedelta(days=rng.randint(5, 30))
    start = world.history_end - timedelta(days=HISTORY_DAYS)
    events = [
        (when, scene)
        for day, months, scene in spec.profile.recurring
        for when in _monthly(rng, day, months, start, end)
    ]
    scenes = spec.profile.occasional
    extra = max(rng.randint(20, 40) - len(events), 0)
    for scene in rng.choices(scenes, weights=[s.weight for s in scenes], k=extra):
        events.append((_daytime(rng, start, end), scene))
    events.sort(key=lambda event: event[0])
    return [
        Transaction(
            core_ref=f"{world.partner_id}/txn/{world.seed}.{next(txn_numbers)}",
            account_ref=account.core_ref,
            amount=Money(scene.amount(rng)),
            credit_debit="Credit" if scene.is_credit else "Debit",
            status="Booked",
            booked_at=when,
            description=scene.description,
            counterparty=rng.choice(places.get(scene.counterparty, (scene.counterparty,))),
        )
        for when, scene in events
    ]


def _opening_balance(
    rng: random.Random, chronological: list[Transaction], target: tuple[int, int]
) -> Decimal:
    """An opening balance that closes within `target` if it can and never goes negative."""
    running = lowest = Decimal(0)
    for txn in chronological:
        running += signed(txn)
        lowest = min(lowest, running)
    floor = max(Decimal(target[0]), running - lowest)
    ceiling = max(Decimal(target[1]), floor)
    closing = (floor + (ceiling - floor) * Decimal(rng.randrange(10_001)) / 10_000).quantize(CENT)
    return closing - running


def _monthly(
    rng: random.Random, day: int, months: tuple[int, ...], start: datetime, end: datetime
) -> list[datetime]:
    """The given day of each (listed) month in `[start, end)`, in a morning hour, China time."""
    found: list[datetime] = []
    year, month = start.year, start.month
    while date(year, month, 1) <= end.date():
        if not months or month in months:
            hour, minute = rng.randint(8, 11), rng.randrange(60)
            when = datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)
            if start <= when < end:
                found.append(when)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _daytime(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment between 07:00 and 22:59 China time in `[start, end)`."""
    first = start.astimezone(CHINA_TZ).date()
    days = (end - start).days + 1
    while True:
        local = time(rng.randint(7, 22), rng.randrange(60), rng.randrange(60), tzinfo=CHINA_TZ)
        when = datetime.combine(first + timedelta(days=rng.randrange(days)), local)
        if start <= when < end:
            return when.astimezone(UTC)
