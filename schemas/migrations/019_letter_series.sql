-- Apology letters are numbered per signer per year (issue 8): the
-- Chairman's letters (and his deputies', signed on his behalf) in the
-- series UBND ("N/PXL-UBND"), a unit whose head signs in a series of its own
-- ("N/PXL-<unit code>"), each from 1 every year.
ALTER TABLE notify.letter_number ADD COLUMN series text NOT NULL DEFAULT 'UBND';
ALTER TABLE notify.letter_number DROP CONSTRAINT letter_number_pkey;
ALTER TABLE notify.letter_number ADD PRIMARY KEY (series, year);
ALTER TABLE notify.letter_number ALTER series DROP DEFAULT;
