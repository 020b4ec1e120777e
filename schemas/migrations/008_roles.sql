-- One database role per service (docs/architecture.md "Security"): each may write only
-- its own schema and read the catalog. Roles are cluster-wide, so they are
-- created only when missing; operators set passwords (ALTER ROLE ... PASSWORD).
DO $$
DECLARE
    svc record;
BEGIN
    FOR svc IN SELECT * FROM (VALUES ('motcua_intake', 'intake'), ('motcua_router', 'routing'),
                                     ('motcua_deadline', 'deadline'), ('motcua_notify', 'notify'))
                             AS t(role, schema_name)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc.role) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', svc.role);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), svc.role);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', svc.schema_name, svc.role);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                       svc.schema_name, svc.role);
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', svc.schema_name, svc.role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE '
                       'ON TABLES TO %I', svc.schema_name, svc.role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE ON SEQUENCES TO %I',
                       svc.schema_name, svc.role);
        EXECUTE format('GRANT USAGE ON SCHEMA catalog TO %I', svc.role);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA catalog TO %I', svc.role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA catalog GRANT SELECT ON TABLES TO %I',
                       svc.role);
    END LOOP;
END
$$;
