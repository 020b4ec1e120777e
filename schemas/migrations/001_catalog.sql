-- The catalog: what operators edit and every service reads (procedures,
-- units, routing rules, the calendar, rule sets, city settings).
CREATE SCHEMA IF NOT EXISTS catalog;

-- Key/value settings of the deployment (city name, signer, defaults).
CREATE TABLE catalog.setting (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Legal rule sets; every dossier stores the one in force when received.
CREATE TABLE catalog.rule_set (
    code              text PRIMARY KEY,
    name              text NOT NULL,
    valid_from        date NOT NULL,
    valid_to          date,                 -- inclusive; NULL = open
    supplement_policy text NOT NULL CHECK (supplement_policy IN ('pause', 'restart'))
);

-- Departments, wards, communes and reception points.
CREATE TABLE catalog.unit (
    code          text PRIMARY KEY,         -- motcua's code for the unit
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('department', 'ward', 'commune', 'reception', 'office')),
    agency_id     text NOT NULL,            -- national identification code AAA.BB.CC.Hnn
    official_code text,                     -- GSO code for wards and communes
    head_title    text NOT NULL,            -- e.g. 'Trưởng phòng', 'Chủ tịch UBND phường'
    head_name     text NOT NULL,
    signer_policy text NOT NULL DEFAULT 'unit_head'
                  CHECK (signer_policy IN ('unit_head', 'city_chairman')),
    address       text,
    illustrative  boolean NOT NULL DEFAULT false, -- agency_id/head are made up
    note          text
);

-- Administrative procedures with their statutory time.
CREATE TABLE catalog.procedure (
    code              text PRIMARY KEY,     -- national code like 1.001612, or illustrative
    name              text NOT NULL,
    field             text NOT NULL,        -- land, civil status, ...
    level             text NOT NULL CHECK (level IN ('commune', 'district', 'both')),
    time_amount       integer NOT NULL CHECK (time_amount > 0),
    time_unit         text NOT NULL CHECK (time_unit IN ('wd', 'wh', 'cd', 'sd')),
    online_time_amount integer CHECK (online_time_amount > 0), -- same unit; NULL = same as time_amount
    legal_basis       text,
    code_illustrative boolean NOT NULL DEFAULT false,
    time_confirmed    boolean NOT NULL DEFAULT true,
    note              text
);

-- Which unit decides a dossier. The most specific matching rule wins
-- (procedure and ward > procedure > ward > default), then priority.
-- target 'ward' sends the dossier to the unit of its ward_code.
CREATE TABLE catalog.routing_rule (
    id             serial PRIMARY KEY,
    procedure_code text REFERENCES catalog.procedure (code),
    ward_code      text REFERENCES catalog.unit (code),
    target         text NOT NULL CHECK (target IN ('ward', 'unit')),
    unit_code      text REFERENCES catalog.unit (code),
    priority       integer NOT NULL DEFAULT 0,
    CHECK ((target = 'unit') = (unit_code IS NOT NULL))
);
CREATE INDEX ON catalog.routing_rule (procedure_code);

-- Days that depart from the weekly rule: public holidays and days off
-- ('off'), swapped working Saturdays ('work'). agency_code NULL = city-wide.
CREATE TABLE catalog.calendar_day (
    agency_code text,
    day         date NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('off', 'work')),
    name        text NOT NULL,
    source      text
);
CREATE UNIQUE INDEX calendar_day_key ON catalog.calendar_day (coalesce(agency_code, ''), day);
