-- Issue 15: who plans and approves a family's accompaniment — the district social commission (участковая
-- социальная комиссия) and the interagency working group (межведомственная рабочая группа) — so that the
-- programme KPIs can be read per commission and group. Free text as the agency names them; optional.
ALTER TABLE accompaniment_case ADD COLUMN district_commission text;
ALTER TABLE accompaniment_case ADD COLUMN working_group text;
