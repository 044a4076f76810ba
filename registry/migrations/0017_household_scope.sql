-- Issue 14: an incremental night re-derives only the families its changes can reach. It walks from the
-- households of tonight's records through their members' registry persons to those persons' other
-- households, so memberships are looked up by person as well as by household.
CREATE INDEX IF NOT EXISTS staged_record_person_ref ON staged_record (source_code, (canonical ->> 'person_ref'))
    WHERE record_kind = 'membership' AND superseded_by IS NULL;
-- A membership that moved to another household is found from its new version through superseded_by.
CREATE INDEX IF NOT EXISTS staged_record_superseded_by ON staged_record (superseded_by)
    WHERE superseded_by IS NOT NULL;
-- Registry persons a steward changed between nights (an accepted review, an unmerge): their households are
-- re-derived by the next reconcile, which takes the rows it sees; a steward committing meanwhile stays
-- queued for the one after.
CREATE TABLE IF NOT EXISTS family_dirty (
    person_id  text NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now()
);
