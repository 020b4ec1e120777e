-- Office hours per agency and season (docs/domain.md, "Counting processing time").
-- The calendar (common/calendar.c, mc_calendar_load) reads them:
-- - an agency with rows of its own uses only its own rows; any other uses the
--   city's rows (agency_code NULL); with no row at all the default applies,
--   07:00-11:30 and 13:30-17:00, Monday to Friday;
-- - a row without valid_from/valid_to holds all year; a row with them is a
--   season from valid_from to valid_to inclusive ('MM-DD'; '10-01'..'03-31'
--   wraps over the new year) that replaces the all-year row on its days.
--   Seasons of one agency must not overlap (checked when loaded);
-- - weekdays: bit 0 = Sunday .. bit 6 = Saturday; 62 = Monday to Friday,
--   126 = Monday to Saturday.
-- Public holidays are computed by rule (common/holidays.c) and
-- catalog.calendar_day holds the overrides (announced days off, swapped
-- working Saturdays); neither depends on the office hours.
CREATE TABLE catalog.office_hours (
    id          serial PRIMARY KEY,
    agency_code text,                    -- NULL = the city's default
    valid_from  text CHECK (valid_from ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
    valid_to    text CHECK (valid_to ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
    weekdays    smallint NOT NULL DEFAULT 62 CHECK (weekdays BETWEEN 1 AND 127),
    sessions    text NOT NULL
                CHECK (sessions ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9](,[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]){0,3}$'),
    note        text,
    CHECK ((valid_from IS NULL) = (valid_to IS NULL))
);
CREATE UNIQUE INDEX office_hours_key
    ON catalog.office_hours (coalesce(agency_code, ''), coalesce(valid_from, ''));

COMMENT ON TABLE catalog.office_hours IS
    'Office hours per agency (NULL = city default) and season; see 007_calendar.sql';
COMMENT ON COLUMN catalog.calendar_day.source IS
    'Where the row comes from: a notice id (e.g. N2024-swap), ''rule'' (motcua calendar seed) or ''operator'' (motcua calendar add)';
