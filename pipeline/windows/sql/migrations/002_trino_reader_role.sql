-- A read-only role for Trino: it may read every table of the schema, now and later, and write none.
-- Its password is not part of the schema: pipeline.pg_schema sets it from the settings.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${reader_role}) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', ${reader_role});
    END IF;
END
$$;

GRANT CONNECT ON DATABASE ${database} TO ${reader_ident};
GRANT USAGE ON SCHEMA public TO ${reader_ident};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader_ident};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${reader_ident};
ALTER ROLE ${reader_ident} SET default_transaction_read_only = on;
