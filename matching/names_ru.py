"""Russian name tables for standardisation: given names with diminutives, patronymics, common family names.

Everything is stored in the hub's canonical spelling (upper case, ``Ё`` written ``Е``), so a lookup after
``normalize_text`` needs no further folding. The tables are the hub's own and deliberately wider than what the
sandbox simulator draws from: real agency data carries names the simulator never produces.

Derived tables (built once at import):

* ``GIVEN_SEX``          – full given name (and spelling variants) → ``"male"`` / ``"female"``;
* ``CANONICAL_GIVEN``    – spelling variant → canonical full name (``НАТАЛИЯ`` → ``НАТАЛЬЯ``);
* ``DIMINUTIVES``        – diminutive → the full names it can stand for (``САША`` → ``АЛЕКСАНДР``,
  ``АЛЕКСАНДРА``), most likely first;
* ``PATRONYMIC_FATHER``  – patronymic (both sexes, usual alternative spellings) → father's given name;
* ``FAMILY_NAMES``       – common family names in both gender forms;
* ``LATIN_ALIASES``      – Western spellings people type for a Russian name (``ALEXANDER``);
* ``KNOWN_WORDS``        – every word above, most trusted first, for the reverse-transliteration dictionary.
"""

from __future__ import annotations

from typing import Final, Literal

SexCode = Literal["male", "female"]

# "FULL: diminutives…;" — the hypocoristic suffix forms (Сашенька, Сашка, Ванечка…) are derived by rules in
# ``matching.standardize``; only irregular ones are listed here.
_MALE = """
АЛЕКСАНДР: САША САНЯ ШУРА ШУРИК САНЕК; АЛЕКСЕЙ: ЛЕША АЛЕША ЛЕХА АЛЕКС; АЛЬБЕРТ: АЛИК; АМИР;
АНАТОЛИЙ: ТОЛЯ ТОЛИК; АНДРЕЙ: АНДРЮША АНДРЮХА; АНТОН: АНТОША ТОША; АРКАДИЙ: АРКАША; АРСЕН;
АРСЕНИЙ: АРСЕША СЕНЯ; АРТЕМ: ТЕМА АРТЕМКА ТЕМКА; АРТУР: АРТУРЧИК; АФАНАСИЙ: АФОНЯ; БОГДАН: БОДЯ;
БОРИС: БОРЯ; ВАДИМ: ВАДИК ДИМА; ВАЛЕНТИН: ВАЛЯ ВАЛЕК; ВАЛЕРИЙ: ВАЛЕРА; ВАСИЛИЙ: ВАСЯ; ВЕНИАМИН: ВЕНЯ;
ВИКТОР: ВИТЯ; ВИТАЛИЙ: ВИТАЛИК ВИТАЛЯ ВИТЯ; ВЛАДИМИР: ВОВА ВОЛОДЯ ВОВАН; ВЛАДИСЛАВ: ВЛАД ВЛАДИК СЛАВА;
ВСЕВОЛОД: СЕВА; ВЯЧЕСЛАВ: СЛАВА СЛАВИК; ГАВРИИЛ: ГАВРЮША ГАНЯ; ГЕННАДИЙ: ГЕНА; ГЕОРГИЙ: ГОША ЖОРА ЖОРИК;
ГЕРМАН: ГЕРА; ГЛЕБ: ГЛЕБУШКА; ГРИГОРИЙ: ГРИША; ДАВИД: ДАВИДИК; ДАМИР; ДАНИИЛ: ДАНЯ ДАНИЛКА;
ДАНИЛА: ДАНЯ ДАНИЛКА; ДЕНИС: ДЕНИСКА ДЭН; ДМИТРИЙ: ДИМА МИТЯ ДИМОН; ЕВГЕНИЙ: ЖЕНЯ; ЕГОР: ЕГОРКА ЖОРА;
ЕЛИСЕЙ; ЕМЕЛЬЯН: ЕМЕЛЯ; ЕФИМ: ФИМА; ЗАХАР: ЗАХАРКА; ИВАН: ВАНЯ ВАНЮША ВАНЮШКА; ИГНАТ: ИГНАША;
ИГОРЬ: ИГОРЕК ГОША; ИЛЬДАР; ИЛЬЯ: ИЛЮША ИЛЮХА; ИННОКЕНТИЙ: КЕША; ИОСИФ: ОСЯ; КИРИЛЛ: КИРЮША КИРЯ;
КОНСТАНТИН: КОСТЯ; КУЗЬМА: КУЗЯ; ЛЕВ: ЛЕВА ЛЕВУШКА; ЛЕОНИД: ЛЕНЯ; ЛЕОНТИЙ; ЛУКА: ЛУКАША;
МАКАР: МАКАРКА; МАКСИМ: МАКС МАКСИК; МАРАТ; МАРК: МАРИК; МАТВЕЙ: МОТЯ МАТВЕЙКА; МИРОН: МИРОША;
МИХАИЛ: МИША МИХА; НАЗАР: НАЗАРКА; НИКИТА: НИКИТКА; НИКОЛАЙ: КОЛЯ; ОЛЕГ: ОЛЕЖКА; ПАВЕЛ: ПАША;
ПЕТР: ПЕТЯ; ПЛАТОН: ПЛАТОША; ПРОХОР: ПРОША; РИНАТ; РОДИОН: РОДЯ; РОМАН: РОМА; РОСТИСЛАВ: РОСТИК СЛАВА;
РУСЛАН: РУСИК; РУСТАМ; САВВА; САВЕЛИЙ: САВА; СЕМЕН: СЕНЯ СЕМА; СЕРГЕЙ: СЕРЕЖА СЕРЕГА;
СТАНИСЛАВ: СТАС СТАСИК СЛАВА; СТЕПАН: СТЕПА; ТАРАС; ТИМОФЕЙ: ТИМА ТИМОША; ТИМУР: ТИМА; ТИХОН: ТИША;
ФЕДОР: ФЕДЯ; ФИЛИПП: ФИЛЯ; ФОМА; ЭДУАРД: ЭДИК; ЭМИЛЬ; ЭРИК; ЮРИЙ: ЮРА; ЯКОВ: ЯША; ЯН;
ЯРОСЛАВ: ЯРИК СЛАВА
"""

_FEMALE = """
АГАТА; АДЕЛИНА; АЛЕКСАНДРА: САША САНЯ ШУРА ШУРОЧКА; АЛЕНА: АЛЕНКА; АЛИНА: АЛЯ; АЛИСА; АЛЛА; АЛЬБИНА: АЛЯ;
АНАСТАСИЯ: НАСТЯ НАСТЕНА ТАСЯ; АНГЕЛИНА: ГЕЛЯ ЛИНА; АНЖЕЛА; АНЖЕЛИКА: ЛИКА; АННА: АНЯ АНЮТА НЮРА НЮША;
АНТОНИНА: ТОНЯ; АРИНА: АРИША; ВАЛЕНТИНА: ВАЛЯ; ВАЛЕРИЯ: ЛЕРА; ВАРВАРА: ВАРЯ; ВАСИЛИСА; ВЕРА: ВЕРОЧКА;
ВЕРОНИКА: НИКА; ВИКТОРИЯ: ВИКА; ВИОЛЕТТА: ВЕТА; ВЛАДА; ГАЛИНА: ГАЛЯ; ДАРЬЯ: ДАША; ДИАНА; ЕВА;
ЕВГЕНИЯ: ЖЕНЯ; ЕВДОКИЯ: ДУСЯ; ЕКАТЕРИНА: КАТЯ КАТЮША; ЕЛЕНА: ЛЕНА; ЕЛИЗАВЕТА: ЛИЗА; ЕСЕНИЯ; ЖАННА;
ЗИНАИДА: ЗИНА; ЗЛАТА; ЗОЯ; ИННА; ИРИНА: ИРА ИРИША; КАРИНА; КИРА; КЛАВДИЯ: КЛАВА; КРИСТИНА: КРИСТИ КРИСТЯ;
КСЕНИЯ: КСЮША; ЛАРИСА: ЛАРА; ЛИДИЯ: ЛИДА; ЛИЛИЯ: ЛИЛЯ; ЛИЯ; ЛЮБОВЬ: ЛЮБА; ЛЮДМИЛА: ЛЮДА МИЛА; МАЙЯ;
МАРГАРИТА: РИТА; МАРИНА: МАРИША; МАРИЯ: МАША МАНЯ МАРУСЯ; МИЛАНА: МИЛА; НАДЕЖДА: НАДЯ; НАТАЛЬЯ: НАТАША;
НИНА; ОКСАНА; ОЛЕСЯ; ОЛЬГА: ОЛЯ; ПОЛИНА: ПОЛЯ; РАИСА: РАЯ; РЕГИНА; СВЕТЛАНА: СВЕТА; СНЕЖАНА;
СОФЬЯ: СОНЯ; СТАНИСЛАВА: СТАСЯ; ТАИСИЯ: ТАЯ; ТАМАРА: ТОМА; ТАТЬЯНА: ТАНЯ; УЛЬЯНА: УЛЯ; ЭВЕЛИНА;
ЭЛИНА; ЭЛЛА; ЭЛЬВИРА; ЭММА; ЭМИЛИЯ; ЮЛИЯ: ЮЛЯ; ЯНА; ЯРОСЛАВА: ЯРА
"""

# Spelling variants of one name that agencies use interchangeably, → the canonical spelling. Folk forms
# whose ICAO spelling is what people type for the usual name (Марья = MARIA, Ксенья = KSENIA) are left out.
_VARIANTS: Final[dict[str, str]] = {
    "НАТАЛИЯ": "НАТАЛЬЯ", "СОФИЯ": "СОФЬЯ", "ДАРИЯ": "ДАРЬЯ", "МАЯ": "МАЙЯ", "ТАТИАНА": "ТАТЬЯНА",
    "УЛИАНА": "УЛЬЯНА", "ЕЛИСАВЕТА": "ЕЛИЗАВЕТА", "КИРИЛ": "КИРИЛЛ", "ФИЛИП": "ФИЛИПП",
    "ГЕНАДИЙ": "ГЕННАДИЙ", "ДАНИЛ": "ДАНИИЛ", "ГАВРИЛ": "ГАВРИИЛ", "АРТЕМИЙ": "АРТЕМ", "ЕМЕЛИАН": "ЕМЕЛЬЯН",
}

# Western spellings typed for Russian names that no transliteration scheme produces.
LATIN_ALIASES: Final[dict[str, str]] = {
    "ALEXANDER": "АЛЕКСАНДР", "ALEKSANDER": "АЛЕКСАНДР", "PETER": "ПЕТР", "MICHAEL": "МИХАИЛ",
    "NICOLAI": "НИКОЛАЙ", "NICOLAY": "НИКОЛАЙ", "CHRISTINA": "КРИСТИНА", "KATHERINE": "ЕКАТЕРИНА",
    "HELEN": "ЕЛЕНА", "GEORGE": "ГЕОРГИЙ", "JULIA": "ЮЛИЯ", "SOPHIA": "СОФЬЯ", "XENIA": "КСЕНИЯ",
}

# Patronymics that the regular rules below get wrong (fleeting vowels, -ич forms, -иевич after clusters).
_PATRONYMIC_EXCEPTIONS: Final[dict[str, tuple[str, str]]] = {
    "ПАВЕЛ": ("ПАВЛОВИЧ", "ПАВЛОВНА"), "ЛЕВ": ("ЛЬВОВИЧ", "ЛЬВОВНА"), "ЯКОВ": ("ЯКОВЛЕВИЧ", "ЯКОВЛЕВНА"),
    "МИХАИЛ": ("МИХАЙЛОВИЧ", "МИХАЙЛОВНА"), "ИЛЬЯ": ("ИЛЬИЧ", "ИЛЬИНИЧНА"), "ФОМА": ("ФОМИЧ", "ФОМИНИЧНА"),
    "КУЗЬМА": ("КУЗЬМИЧ", "КУЗЬМИНИЧНА"), "ЛУКА": ("ЛУКИЧ", "ЛУКИНИЧНА"),
    "ДАНИЛА": ("ДАНИЛОВИЧ", "ДАНИЛОВНА"), "ДМИТРИЙ": ("ДМИТРИЕВИЧ", "ДМИТРИЕВНА"),
    "ГЕОРГИЙ": ("ГЕОРГИЕВИЧ", "ГЕОРГИЕВНА"), "ГАВРИИЛ": ("ГАВРИЛОВИЧ", "ГАВРИЛОВНА"),
}

# Common family names (masculine form); feminine forms are derived. Names that reverse transliteration
# cannot rebuild from ICAO alone (soft sign, ё, й) matter most here.
_FAMILY = """
ИВАНОВ СМИРНОВ КУЗНЕЦОВ ПОПОВ ВАСИЛЬЕВ ПЕТРОВ СОКОЛОВ МИХАЙЛОВ НОВИКОВ ФЕДОРОВ МОРОЗОВ ВОЛКОВ АЛЕКСЕЕВ
ЛЕБЕДЕВ СЕМЕНОВ ЕГОРОВ ПАВЛОВ КОЗЛОВ СТЕПАНОВ НИКОЛАЕВ ОРЛОВ АНДРЕЕВ МАКАРОВ НИКИТИН ЗАХАРОВ ЗАЙЦЕВ
СОЛОВЬЕВ БОРИСОВ ЯКОВЛЕВ ГРИГОРЬЕВ РОМАНОВ ВОРОБЬЕВ СЕРГЕЕВ КУЗЬМИН ФРОЛОВ АЛЕКСАНДРОВ ДМИТРИЕВ КОРОЛЕВ
ГУСЕВ КИСЕЛЕВ ИЛЬИН МАКСИМОВ ПОЛЯКОВ СОРОКИН ВИНОГРАДОВ КОВАЛЕВ БЕЛОВ МЕДВЕДЕВ АНТОНОВ ТАРАСОВ ЖУКОВ
БАРАНОВ ФИЛИППОВ КОМАРОВ ДАВЫДОВ БЕЛЯЕВ ГЕРАСИМОВ БОГДАНОВ ОСИПОВ СИДОРОВ МАТВЕЕВ ТИТОВ МАРКОВ МИРОНОВ
КРЫЛОВ КУЛИКОВ КАРПОВ ВЛАСОВ МЕЛЬНИКОВ ДЕНИСОВ ГАВРИЛОВ ТИХОНОВ КАЗАКОВ АФАНАСЬЕВ ДАНИЛОВ САВЕЛЬЕВ
ТИМОФЕЕВ ФОМИН ЧЕРНОВ АБРАМОВ МАРТЫНОВ ЕФИМОВ ФЕДОТОВ ЩЕРБАКОВ НАЗАРОВ КАЛИНИН ИСАЕВ ЧЕРНЫШЕВ БЫКОВ
МАСЛОВ РОДИОНОВ КОНОВАЛОВ ЛАЗАРЕВ ВОРОНИН КЛИМОВ ФИЛАТОВ ПОНОМАРЕВ ГОЛУБЕВ КУДРЯВЦЕВ ПРОХОРОВ НАУМОВ
ПОТАПОВ ЖУРАВЛЕВ ОВЧИННИКОВ ТРОФИМОВ ЛЕОНОВ СОБОЛЕВ ЕРМАКОВ КОЛЕСНИКОВ ГОНЧАРОВ ЕМЕЛЬЯНОВ НИКИФОРОВ
ГРАЧЕВ КОТОВ ГРИШИН ЕФРЕМОВ АРХИПОВ ГРОМОВ КИРИЛЛОВ МАЛЫШЕВ ПАНОВ МОИСЕЕВ РУМЯНЦЕВ АКИМОВ КОНДРАТЬЕВ
БИРЮКОВ ГОРБУНОВ АНИСИМОВ ЕРЕМИН ТИХОМИРОВ ГАЛКИН ЛУКЬЯНОВ МИХЕЕВ СКВОРЦОВ ЮДИН БЕЛОУСОВ НЕСТЕРОВ СИМОНОВ
ПРОКОФЬЕВ ХАРИТОНОВ КНЯЗЕВ ЦВЕТКОВ ЛЕВИН МИТРОФАНОВ ВОРОНЦОВ АКСЕНОВ МАЛЬЦЕВ ЛОГИНОВ ГОРШКОВ САВИН
КРАСНОВ МАЙОРОВ ДЕМИДОВ ЕЛИСЕЕВ РЫБАКОВ САФОНОВ ПЛОТНИКОВ ХОХЛОВ ФАДЕЕВ МОЛЧАНОВ ИГНАТОВ ЛИТВИНОВ ЕРШОВ
УШАКОВ ДЕМЕНТЬЕВ РЯБОВ МУХИН КАЛАШНИКОВ ЛЕОНТЬЕВ ЛОБАНОВ КУЗИН КОРНИЛОВ ЕВДОКИМОВ БОРОДИН ПЛАТОНОВ
НЕКРАСОВ БАЛАШОВ БОБРОВ ЖДАНОВ БЛИНОВ ИГНАТЬЕВ КОРОТКОВ МУРАВЬЕВ КРЮКОВ БЕЛЯКОВ БОГОМОЛОВ ДРОЗДОВ ЛАВРОВ
ЗУЕВ ПЕТУХОВ ЛАРИН НИКУЛИН СЕРОВ ТЕРЕНТЬЕВ ЗОТОВ УСТИНОВ ФОКИН САМОЙЛОВ КОНСТАНТИНОВ САХАРОВ ШИШКИН
САМСОНОВ ЧЕРКАСОВ ЧИСТЯКОВ НОСОВ СПИРИДОНОВ КАРАСЕВ АВДЕЕВ ВОРОНОВ ЗВЕРЕВ НЕЧАЕВ КУДРЯШОВ СЕДОВ
ФИРСОВ ПАНИН ГОЛОВИН ТЕРЕХОВ УЛЬЯНОВ ШЕСТАКОВ АГЕЕВ НИКОНОВ БАЖЕНОВ ГОРДЕЕВ КОЖЕВНИКОВ ПАХОМОВ ЗИМИН
КОСТИН ШИРОКОВ ФИЛИМОНОВ ЛАРИОНОВ САЗОНОВ СУВОРОВ НЕФЕДОВ ЛЮБИМОВ ГОРБАЧЕВ КОПЫЛОВ ЛУКИН ТОКАРЕВ
КУЛЕШОВ ШИЛОВ БОЛЬШАКОВ ПАНКРАТОВ РОДИН ШАПОВАЛОВ БОЧАРОВ МАРКИН ГОРЕЛОВ АГАФОНОВ БЕРЕЗИН ЕРМОЛАЕВ
ЗУБКОВ ТРИФОНОВ КРУГЛОВ ТРЕТЬЯКОВ КОЛОСОВ РОЖКОВ АРТАМОНОВ ШМЕЛЕВ ЛАПТЕВ ЛАПШИН ЗИНОВЬЕВ ЗОРИН УТКИН
СТОЛЯРОВ ТКАЧЕВ ДОРОФЕЕВ АНТИПОВ ЗАВЬЯЛОВ СВИРИДОВ ЗОЛОТАРЕВ КУЛАКОВ МЕЩЕРЯКОВ ГУЛЯЕВ БОНДАРЕВ ПОЗДНЯКОВ
ПАНФИЛОВ КОЧЕТКОВ СУХАНОВ РЫЖОВ СТАРОСТИН КАЛМЫКОВ СУББОТИН ШУБИН ЩУКИН ЛОСЕВ ВИНОКУРОВ ЛАПИН ПАРФЕНОВ
ИСАКОВ ГОЛОВАНОВ КОРОВИН СОЛОВЬЕВ СЕЛЕЗНЕВ ЮРЬЕВ ИЛЬЮШИН ДЬЯКОВ ПЫРЬЕВ ГУРЬЕВ ВАСИЛЬКОВ КОВАЛЬЧУК АЛИЕВ
МАМЕДОВ ГАСАНОВ ХАБИБУЛЛИН САФИН ШАРИПОВ КИМ ПАК ЦОЙ ЭРДМАН ЭПШТЕЙН ШТЕЙН ГОФМАН КОХ ШЕВЧЕНКО БОНДАРЕНКО
ТКАЧЕНКО КРАВЧЕНКО КОВАЛЕНКО ЛИТВИНЕНКО БОЙКО ЧЕРНЫХ СЕДЫХ БЕЛЫХ ДОЛГИХ ПОКРОВСКИЙ НИКОЛЬСКИЙ ВИШНЕВСКИЙ
КОВАЛЬСКИЙ ВЫСОЦКИЙ БЕЛЕЦКИЙ ГОРОДЕЦКИЙ ЛИСИЦКИЙ ОСТРОВСКИЙ УСПЕНСКИЙ ПРЕОБРАЖЕНСКИЙ ВОЗНЕСЕНСКИЙ
РОЖДЕСТВЕНСКИЙ ТРОИЦКИЙ БОГОЯВЛЕНСКИЙ СМОЛЕНСКИЙ ЯНОВСКИЙ ДОБРОВОЛЬСКИЙ ТОЛСТОЙ ТРУБЕЦКОЙ ДОНСКОЙ
ЛАНОВОЙ САДОВОЙ ЛУГОВОЙ ПОЛЕВОЙ ШАХОВСКОЙ АНДРИАНОВ АДРИАНОВ
"""


def _parse(table: str) -> dict[str, tuple[str, ...]]:
    entries: dict[str, tuple[str, ...]] = {}
    for chunk in table.split(";"):
        name, _, dims = chunk.partition(":")
        if name.strip():
            entries[name.strip()] = tuple(dims.split())
    return entries


def patronymics_of(father: str) -> tuple[str, str]:
    """The masculine and feminine patronymic formed from a father's name: СЕРГЕЙ → СЕРГЕЕВИЧ, СЕРГЕЕВНА."""
    if father in _PATRONYMIC_EXCEPTIONS:
        return _PATRONYMIC_EXCEPTIONS[father]
    if father.endswith("ИЙ"):  # ВАСИЛИЙ → ВАСИЛЬЕВИЧ; the -иевич forms after clusters are exceptions
        stem = father[:-2] + "Ь"
        return stem + "ЕВИЧ", stem + "ЕВНА"
    if father.endswith(("Й", "Ь")):  # СЕРГЕЙ → СЕРГЕЕВИЧ, ИГОРЬ → ИГОРЕВИЧ
        return father[:-1] + "ЕВИЧ", father[:-1] + "ЕВНА"
    if father.endswith(("А", "Я")):  # НИКИТА → НИКИТИЧ, НИКИТИЧНА
        return father[:-1] + "ИЧ", father[:-1] + "ИЧНА"
    if father[-1] in "ЖШЧЩЦ":
        return father + "ЕВИЧ", father + "ЕВНА"
    return father + "ОВИЧ", father + "ОВНА"


def _alternative_patronymics(father: str) -> tuple[str, ...]:
    """Spellings also seen in records: ВАЛЕРИЕВИЧ beside ВАЛЕРЬЕВИЧ, ДМИТРЬЕВИЧ beside ДМИТРИЕВИЧ."""
    if not father.endswith("ИЙ"):
        return ()
    soft, hard = father[:-2] + "Ь", father[:-2] + "И"
    return tuple(stem + end for stem in (soft, hard) for end in ("ЕВИЧ", "ЕВНА"))


def feminine_family_name(masculine: str) -> str:
    """ИВАНОВ → ИВАНОВА, ПОКРОВСКИЙ → ПОКРОВСКАЯ, ТОЛСТОЙ → ТОЛСТАЯ; indeclinable names unchanged."""
    if masculine.endswith(("ОВ", "ЕВ", "ИН", "ЫН")):
        return masculine + "А"
    if masculine.endswith(("СКИЙ", "ЦКИЙ", "ОЙ")):
        return masculine[:-2] + "АЯ"
    return masculine


_MALE_TABLE = _parse(_MALE)
_FEMALE_TABLE = _parse(_FEMALE)

GIVEN_SEX: Final[dict[str, SexCode]] = {
    **{name: "male" for name in _MALE_TABLE},
    **{name: "female" for name in _FEMALE_TABLE},
}
CANONICAL_GIVEN: Final[dict[str, str]] = {name: name for name in GIVEN_SEX}
for _variant, _canonical in _VARIANTS.items():
    CANONICAL_GIVEN[_variant] = _canonical
    GIVEN_SEX[_variant] = GIVEN_SEX[_canonical]

DIMINUTIVES: Final[dict[str, tuple[str, ...]]] = {}
_RANK: dict[tuple[str, str], int] = {}
for _table in (_MALE_TABLE, _FEMALE_TABLE):
    for _full, _dims in _table.items():
        for _rank, _dim in enumerate(_dims):
            DIMINUTIVES[_dim] = (*DIMINUTIVES.get(_dim, ()), _full)
            _RANK[(_dim, _full)] = _rank
# Most likely reading first: the name whose list starts with this diminutive (ДИМА: ДМИТРИЙ before ВАДИМ);
# on a tie, male before female, then table order (the sort is stable).


def _by_rank(dim: str, fulls: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(fulls, key=lambda full: _RANK[(dim, full)]))


DIMINUTIVES.update({dim: _by_rank(dim, fulls) for dim, fulls in DIMINUTIVES.items()})

PATRONYMIC_FATHER: Final[dict[str, str]] = {}
for _father in [*_MALE_TABLE, *(v for v, c in _VARIANTS.items() if GIVEN_SEX[c] == "male")]:
    _canonical_father = CANONICAL_GIVEN[_father]
    for _form in (*_alternative_patronymics(_father), *patronymics_of(_father)):
        PATRONYMIC_FATHER.setdefault(_form, _canonical_father)

_PATRONYMICS = [form for father in PATRONYMIC_FATHER.values() for form in patronymics_of(father)]
_MASCULINE_FAMILY = list(dict.fromkeys(_FAMILY.split()))
# Family names made from the patronymic stem (ИВАНОВИЧ → ИВАНОВ) are among the most common of all.
_MASCULINE_FAMILY += [
    p[:-2] for p in _PATRONYMICS if p.endswith(("ОВИЧ", "ЕВИЧ")) and p[:-2] not in _MASCULINE_FAMILY
]
FAMILY_NAMES: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(form for m in _MASCULINE_FAMILY for form in (m, feminine_family_name(m)))
)

KNOWN_WORDS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys([*_MALE_TABLE, *_FEMALE_TABLE, *_VARIANTS, *_PATRONYMICS, *DIMINUTIVES, *FAMILY_NAMES])
)
"""Every known word, most trusted reading first: reverse transliteration keeps the first per Latin form."""

FOLDABLE_WORDS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys([*_MALE_TABLE, *_FEMALE_TABLE, *_VARIANTS, *_PATRONYMICS, *DIMINUTIVES])
)
"""Words safe to find through the lossy Latin key: given names and patronymics, not family names (a lossy
key would turn an unknown family name such as Aliev into a known one such as Алеев)."""
