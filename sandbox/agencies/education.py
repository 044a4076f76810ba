"""The education agency: students and their legal representatives, delivered as SMEV ``StudentsBatch`` files.

The education system exchanges ``urn://region-education/students/1.0`` payloads
(:mod:`sandbox.formats.education`); the simulated SMEV server delivers each file
``education/night-NNNN/batch-BBBB-CCCCC.xml`` (batch ``BBBB`` of chunk ``CCCCC``, at most ``BATCH_SIZE``
students, in the order the families came) as one message. What one family yields (nothing when no current
child is of school age, 7–17 on the night's date):

* a ``Student`` per school-age current child, sometimes two (a duplicate: the child is listed a second time
  under another student id, at another school — a transfer whose old card was never closed — with its own
  noise); the school comes from the family (siblings mostly share one), the class from the age
  (``5Б``: grade = age − 6, clamped to 1–11);
* inside each Student, a ``LegalRepresentative`` per current adult who is mother, father, guardian or
  foster parent. Schools register the representative on each child's card, so a mother of two students is
  two representative records with two ids (realistic duplicates the hub has to merge);
* for a child with ``health_status.kind == "special_needs"`` a ПМПК conclusion (number, date = the day the
  status was established, «статус обучающегося с ОВЗ подтвержден …») and an adapted programme (АООП НОО or
  ООО by grade). A disability (МСЭ) is health data the school does not hold, so it is not emitted.

The education services of the family (``family.services`` with ``agency == "education"``) are not part of
this exchange and are skipped; the school has no family record either, so there is no ``family`` truth row.

Ids (the hub's mapping must produce the same ``source_record_id``): a student is
``STU-`` + ``stable_hex(seed, "education", pid, length=10)`` upper-cased, its duplicate
``stable_hex(seed, "education", pid, "copy1", length=10)``; a representative is
``REP-`` + ``stable_hex(seed, "education", "rep", <student id>, <adult pid>)`` upper-cased (one per
student card). Truth rows: both are kind ``person`` with the true pid and fid; noise lists what was done,
plus ``duplicate`` on a second listing and ``stale_address`` when the card has the previous address.

SNILS is kept as typed when the schema allows it; noise that groups the digits with spaces comes out in the
all-dash display form (the school's input mask), see :func:`_snils`.

``change="updated"`` is an upsert of the whole card; when a family leaves the agency its students are sent
once more with ``change="deleted"``. ``changedAt`` is spread over the past year on night 1 (so a
``changed since`` cut has something to cut) and is the night's timestamp afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

from sandbox import names
from sandbox.emit import EmitContext, TruthRow, one_line_address, record_rng, stable_hex
from sandbox.formats.education import (
    BirthCertificate,
    ChangeKind,
    Gender,
    LegalRepresentative,
    PmpkConclusion,
    RelationCode,
    School,
    Student,
    StudentsBatch,
    render_students_batch,
)
from sandbox.noise import noisy_person
from sandbox.population import TrueFamily, TrueMember, TruePerson

SOURCE = "education"
BATCH_SIZE = 200
SCHOOL_AGES = range(7, 18)
RELATION = {"mother": RelationCode.MOTHER, "father": RelationCode.FATHER,
            "guardian": RelationCode.GUARDIAN, "foster_parent": RelationCode.FOSTER_PARENT}
CLASS_LETTERS = "АБВГД"
# The SnilsType of students-1.0.xsd ([0-9] rather than \d: the XSD spells out ASCII digits too).
SNILS_AS_TYPED = re.compile(r"[0-9]{11}|[0-9]{3}-[0-9]{3}-[0-9]{3}[ \-][0-9]{2}")
OWN_SCHOOL = 0.12  # a sibling at another school than the family's (gymnasium, boarding lyceum …)
# ПМПК findings behind an adapted programme, with the ФАОП НОО variant and a rough frequency.
DISORDERS: tuple[tuple[str, str, int], ...] = (("ЗПР", "7.1", 60), ("ТНР", "5.1", 25), ("РАС", "8.1", 10),
                                                ("НОДА", "6.1", 5))


def student_id(seed: int, pid: str, copy: int = 0) -> str:
    """The education system's id of a child's student card (``copy`` > 0 for a duplicate listing)."""
    parts = (pid,) if copy == 0 else (pid, f"copy{copy}")
    return "STU-" + stable_hex(seed, SOURCE, *parts, length=10).upper()


def representative_id(seed: int, student: str, adult_pid: str) -> str:
    """The id of an adult's representative entry on one student card."""
    return "REP-" + stable_hex(seed, SOURCE, "rep", student, adult_pid).upper()


def school(index: int) -> School:
    """School number ``index`` of ``names.SCHOOLS`` with its (made-up) regional code."""
    return School(code=f"53{index + 1:04d}", name=names.SCHOOLS[index])


def school_class(age: int, rng: random.Random) -> str:
    """The class of a student of ``age``: grade = age − 6 (1–11) and a parallel letter."""
    return f"{min(11, max(1, age - 6))}{rng.choice(CLASS_LETTERS)}"


class EducationEmitter:
    """Writes one chunk of the education system's student batches for one night."""

    source = SOURCE

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx
        self.now = dt.datetime.fromisoformat(ctx.night.timestamp)  # timezone-aware (regional time)
        self.pending: list[Student] = []
        self.batches = 0

    def add_family(self, family: TrueFamily) -> list[TruthRow]:
        """Queue the family's students (with representatives) as updated; return their truth."""
        return self._emit(family, ChangeKind.UPDATED)

    def remove_family(self, family: TrueFamily) -> list[TruthRow]:
        """Queue the family's students as deleted (last known state); return their truth."""
        return self._emit(family, ChangeKind.DELETED)

    def close(self) -> None:
        """Write the last, partial batch (an empty chunk writes no file)."""
        self._flush()

    def _emit(self, family: TrueFamily, change: ChangeKind) -> list[TruthRow]:
        members = family.current_members()
        adults = [m for m in members if m.role in RELATION]
        rows: list[TruthRow] = []
        for child in _school_children(family, members, self.ctx.night.date):
            rows += self._listings(family, child, adults, change)
        return rows

    def _listings(
        self, family: TrueFamily, child: TruePerson, adults: list[TrueMember], change: ChangeKind
    ) -> list[TruthRow]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, f"{child.pid}#student")
        copies = 2 if ctx.counter.roll(SOURCE, "duplicate", ctx.rates.duplicate, rng) else 1
        rows = []
        for copy in range(copies):
            sid = student_id(ctx.seed, child.pid, copy)
            reps, rep_rows = self._representatives(family, sid, adults)
            student, noise = self._student(family, child, sid, copy, reps, change)
            self._queue(student)
            noise += ["duplicate"] if copy else []
            rows.append(TruthRow(SOURCE, "person", sid, child.pid, family.fid, ctx.night.number, noise))
            rows += rep_rows
        return rows

    def _student(
        self, family: TrueFamily, child: TruePerson, sid: str, copy: int,
        reps: tuple[LegalRepresentative, ...], change: ChangeKind,
    ) -> tuple[Student, list[str]]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, sid)
        noisy = noisy_person(child, SOURCE, ctx.rates, rng, ctx.counter)
        stale = ctx.counter.roll(SOURCE, "stale_address", ctx.rates.stale_address, rng,
                                 family.previous_address is not None)
        address = family.previous_address if stale and family.previous_address else family.address
        grade_class = school_class(child.age(ctx.night.date), rng)
        pmpk, programme = self._special_needs(child, int(grade_class[:-1]))
        student = Student(
            student_id=sid, family_name=noisy.family_name, first_name=noisy.given_name,
            patronymic=noisy.patronymic, birth_date=noisy.birth_date, gender=_gender(child),
            snils=_snils(noisy.snils), birth_certificate=_certificate(child) if rng.random() < 0.85 else None,
            school=school(_school_index(ctx.seed, family, child, copy)), school_class=grade_class,
            adapted_programme=programme, pmpk=pmpk,
            address=one_line_address(address) if rng.random() < 0.9 else None,
            representatives=reps, change=change, changed_at=self._changed_at(sid),
        )
        return student, noisy.noise + (["stale_address"] if stale else [])

    def _representatives(
        self, family: TrueFamily, sid: str, adults: list[TrueMember]
    ) -> tuple[tuple[LegalRepresentative, ...], list[TruthRow]]:
        ctx = self.ctx
        reps, rows = [], []
        for member in adults:
            adult = family.person(member.pid)
            rid = representative_id(ctx.seed, sid, adult.pid)
            rng = record_rng(ctx.seed, SOURCE, rid)
            noisy = noisy_person(adult, SOURCE, ctx.rates, rng, ctx.counter)
            reps.append(LegalRepresentative(
                representative_id=rid, family_name=noisy.family_name, first_name=noisy.given_name,
                patronymic=noisy.patronymic, relation=RELATION[member.role],
                birth_date=noisy.birth_date if rng.random() < 0.7 else None, snils=_snils(noisy.snils),
                phone=adult.phone if rng.random() < 0.85 else None,
            ))
            rows.append(TruthRow(SOURCE, "person", rid, adult.pid, family.fid, ctx.night.number,
                                 noisy.noise))
        return tuple(reps), rows

    def _special_needs(self, child: TruePerson, grade: int) -> tuple[PmpkConclusion | None, str | None]:
        status = child.health_status
        if not status or status["kind"] != "special_needs":
            return None, None
        issued = dt.date.fromisoformat(status["established_on"])
        # Keyed by the child, not the card: a duplicate card carries the same paper.
        rng = record_rng(self.ctx.seed, SOURCE, f"{child.pid}#pmpk")
        disorder, variant, _ = rng.choices(DISORDERS, weights=[w for *_, w in DISORDERS])[0]
        # ФАОП НОО numbers its variants; ФАОП ООО does not.
        programme = (f"АООП НОО для обучающихся с {disorder} (вариант {variant})" if grade <= 4
                     else f"АООП ООО для обучающихся с {disorder}")
        number = f"ПМПК-{issued.year}-{rng.randint(1, 2500):04d}"
        text = f"статус обучающегося с ОВЗ подтвержден; рекомендована АООП для обучающихся с {disorder}"
        return PmpkConclusion(number=number, date=issued, text=text), programme

    def _queue(self, student: Student) -> None:
        self.pending.append(student)
        if len(self.pending) >= BATCH_SIZE:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        batch = StudentsBatch(created_at=self.now, students=tuple(self.pending))
        path = self.ctx.path(SOURCE, f"batch-{self.batches:04d}", "xml")
        path.write_bytes(etree.tostring(render_students_batch(batch), xml_declaration=True, encoding="UTF-8"))
        self.batches += 1
        self.pending = []

    def _changed_at(self, key: str) -> dt.datetime:
        if self.ctx.night.number > 1:
            return self.now
        # The initial load spreads over the past year, so a `changed since` cut has something to cut.
        rng = record_rng(self.ctx.seed, SOURCE, key + "#ts")
        return self.now - dt.timedelta(seconds=rng.randint(0, 365 * 86400))


def _school_children(family: TrueFamily, members: list[TrueMember], today: dt.date) -> Iterator[TruePerson]:
    for member in members:
        if member.role == "child":
            child = family.person(member.pid)
            if child.age(today) in SCHOOL_AGES:
                yield child


def _school_index(seed: int, family: TrueFamily, child: TruePerson, copy: int) -> int:
    """The family's school for most children; a duplicate card is at another school (the one left)."""
    count = len(names.SCHOOLS)
    index = record_rng(seed, SOURCE, f"{family.fid}#school").randrange(count)
    rng = record_rng(seed, SOURCE, f"{child.pid}#school")
    if rng.random() < OWN_SCHOOL:
        index = rng.randrange(count)
    return (index + 1 + rng.randrange(count - 1)) % count if copy else index


def _snils(value: str | None) -> str | None:
    """SNILS as the school's input mask keeps it: as typed when the XSD allows it, else ``123-456-789-01``.

    Noise may group the digits with spaces (``123 456 789 01``), which the schema refuses; the mask turns
    those into the all-dash display form, so the id_format noise stays visible without breaking the XSD.
    """
    if value is None or SNILS_AS_TYPED.fullmatch(value):
        return value
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]}-{digits[9:]}"


def _certificate(child: TruePerson) -> BirthCertificate | None:
    if child.birth_certificate is None:
        return None
    series, _, number = child.birth_certificate.partition(" ")
    return BirthCertificate(series=series, number=number)


def _gender(person: TruePerson) -> Gender:
    return Gender.MALE if person.sex == "male" else Gender.FEMALE
