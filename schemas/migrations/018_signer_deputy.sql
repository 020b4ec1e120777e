-- Signer policy per unit (issue 8): besides the unit's head and the city
-- Chairman, a Vice-Chairman signing on the Chairman's behalf ("KT. CHỦ
-- TỊCH / PHÓ CHỦ TỊCH", Decree 30/2020), the one in charge of the unit's
-- sector: deputy_name. The words come from the settings signer_delegation
-- (default "KT. CHỦ TỊCH") and deputy_title (default "Phó Chủ tịch").
ALTER TABLE catalog.unit DROP CONSTRAINT unit_signer_policy_check;
ALTER TABLE catalog.unit
    ADD CONSTRAINT unit_signer_policy_check
        CHECK (signer_policy IN ('unit_head', 'city_chairman', 'city_deputy')),
    ADD COLUMN deputy_name text,
    ADD CONSTRAINT unit_deputy_named CHECK (signer_policy <> 'city_deputy' OR deputy_name <> '');
