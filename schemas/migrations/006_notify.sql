-- notify: letters (one per dossier and breach), their numbers, deliveries.
CREATE SCHEMA notify;
SELECT public.motcua_create_delivery_tables('notify');

CREATE TABLE notify.letter_number (
    year integer PRIMARY KEY,
    last integer NOT NULL
);

CREATE TABLE notify.letter (
    notification_id    uuid PRIMARY KEY,
    dossier_code       text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('apology')),
    breach             integer NOT NULL,
    unit_code          text,
    delivery_channel   text NOT NULL,
    document_number    text NOT NULL,
    subject            text NOT NULL,
    body               text NOT NULL,
    issued_at          timestamptz NOT NULL,
    new_appointment_at timestamptz NOT NULL,
    status             text NOT NULL DEFAULT 'sent'
                       CHECK (status IN ('sent', 'delivered', 'failed', 'bounced')),
    UNIQUE (dossier_code, kind, breach)
);

CREATE TABLE notify.delivery (
    event_id        uuid PRIMARY KEY,
    notification_id uuid NOT NULL,
    status          text NOT NULL,
    detail          text,
    reported_at     timestamptz NOT NULL
);
