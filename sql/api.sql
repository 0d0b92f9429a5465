--
-- SQL API: sources, jobs, tables, lifecycle, views, privileges.
-- The source is this very instance (libpq finds it through PGHOST/PGPORT,
-- which pg_regress sets for the server it starts).
--
CREATE EXTENSION pg_tributary;
SET client_min_messages = notice;
\set SHOW_CONTEXT never

-- source tables on "the source"
CREATE SCHEMA src;
CREATE TABLE src.orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),
                         created timestamptz DEFAULT now(), tags text[]);
ALTER TABLE src.orders REPLICA IDENTITY FULL;
CREATE TABLE src.nokey (a int, b text);
ALTER TABLE src.nokey REPLICA IDENTITY FULL;
CREATE TABLE src.defident (id int PRIMARY KEY, v text);
CREATE TABLE src.items (order_id bigint, line int, sku text, qty int, PRIMARY KEY (order_id, line));
ALTER TABLE src.items REPLICA IDENTITY FULL;

-- sources
SELECT tributary.create_source('local', 'postgresql', 'dbname=contrib_regression password=s3cret') > 0 AS created;
SELECT tributary.create_source('local', 'postgresql', 'dbname=contrib_regression');
SELECT tributary.create_source('pie', 'PieCloudDB', 'dbname=contrib_regression') > 0 AS created;
SELECT source_kind FROM tributary.source WHERE source_name = 'pie';
SELECT tributary.drop_source('pie');
SELECT tributary.create_source('bad kind', 'oracle', 'dbname=x');
SELECT tributary.create_source('badkind', 'oracle', 'dbname=x');
SELECT tributary.create_source('badconn', 'postgresql', 'host=localhost nosuchkey=1');
SELECT tributary.create_source('badconn', 'postgresql', 'dbname=''unterminated');
SELECT tributary.create_source('my', 'mysql', 'host=127.0.0.1 port=1 user=u password=pw sslrootcert=x application_name=a');
SELECT tributary.create_source('my', 'MariaDB', 'host=127.0.0.1 port=1 user=u password=pw dbname=shop',
                               '{"server_id": 4242, "heartbeat_interval": "5 s"}') > 0 AS created;
SELECT tributary.create_source('badopt', 'postgresql', 'dbname=x', '{"server_id": 1}');
SELECT tributary.create_source('badopt', 'postgresql', 'dbname=x', '{"decoder": "wal2json"}');
SELECT tributary.create_source('badopt', 'mysql', 'dbname=x', '{"server_id": 0}');
SELECT source_name, kind, conninfo, options FROM tributary.sources ORDER BY 1;

-- the password is masked in the view; other roles see neither the sources
-- nor the catalog
CREATE ROLE trib_nobody;
SET ROLE trib_nobody;
SELECT source_name, conninfo FROM tributary.sources ORDER BY 1;
SELECT source_conninfo FROM tributary.source;
SELECT source_name FROM tributary.source ORDER BY 1;
SELECT tributary.create_source('x', 'postgresql', 'dbname=x');
RESET ROLE;

-- jobs
SELECT tributary.create_job('orders_sync', 'local') > 0 AS created;
SELECT tributary.create_job('orders_sync', 'local');
SELECT tributary.create_job('j2', 'nosuchsource');
SELECT tributary.create_job('j2', 'local', 'sometimes');
SELECT tributary.create_job('j2', 'local', 'full', '{"start_position": "0/0"}');
SELECT tributary.create_job('full_only', 'local', 'full', '{"target_schema": "copy", "parallelism.default": 2}') > 0 AS created;
SELECT tributary.create_job('cdc_only', 'local', 'cdc', '{"start_position": "0/1000000"}') > 0 AS created;
-- a start position the source cannot have is refused at once
SELECT tributary.create_job('bad_pos', 'local', 'cdc', '{"start_position": "garbage"}');
SELECT tributary.alter_job('cdc_only', '{"start_position": "12/ZZ"}');

-- tables: prerequisite errors keep the seed's wording
SELECT tributary.add_table('orders_sync', 'src.nokey');
SELECT tributary.add_table('orders_sync', 'src.defident');
SELECT tributary.add_table('orders_sync', 'src.nosuch');
SELECT tributary.add_table('orders_sync', 'nodots');
SELECT tributary.add_table('nosuchjob', 'src.orders');
-- a 'full' job needs neither REPLICA IDENTITY FULL nor wal_level=logical
SELECT tributary.add_table('full_only', 'src.defident') > 0 AS added;
SELECT tributary.add_table('full_only', 'src.nokey');

-- the default target is the source's schema and name: created from the source definition
SELECT tributary.add_table('orders_sync', 'src.orders', 'public.orders_copy') > 0 AS added;
\d public.orders_copy
SELECT tributary.add_table('orders_sync', 'src.orders');
SELECT tributary.add_table('cdc_only', 'src.orders', 'public.orders_copy');
\d copy.defident

-- partial column mapping: the key is added by name (seed 000's rule)
SELECT tributary.add_table('cdc_only', 'src.items', 'public.items_slim',
                           '{"sku_code": "sku", "quantity": "qty"}') > 0 AS added;
\d public.items_slim
SELECT target_table, columns, key_columns FROM tributary.tables WHERE job_name = 'cdc_only';

-- an existing target must have the mapped columns, including the key
CREATE TABLE public.items_target (order_id bigint, line int, sku text, PRIMARY KEY (order_id, line));
SELECT tributary.add_table('orders_sync', 'src.items', 'public.items_target');
SELECT tributary.add_table('orders_sync', 'src.items', 'public.items_target', '{"sku": "sku"}') > 0 AS added;
SELECT tributary.drop_job('cdc_only');
CREATE TABLE public.items_nokey2 (sku text);
SELECT tributary.create_job('mapjob', 'local', 'full+cdc', '{"create_tables": false}') > 0 AS created;
SELECT tributary.add_table('mapjob', 'src.items', 'public.items_nokey2', '{"sku": "sku"}');
SELECT tributary.add_table('mapjob', 'src.items', 'public.not_there');
CREATE TABLE public.items_t3 (order_id bigint, line int, sku text);
SELECT tributary.add_table('mapjob', 'src.items', 'public.items_t3', '{"sku": "nosuchcol"}');
SELECT tributary.add_table('mapjob', 'src.items', 'public.items_nokey2', '["sku"]');
-- expressions and filters: applied to the stream too, but not by incremental polls
SELECT tributary.add_table('mapjob', 'src.items', 'public.items_t3', '{"sku": "upper(sku)"}') > 0 AS added;
SELECT tributary.create_job('incjob', 'local', 'incremental', '{"create_tables": false}') > 0 AS created;
SELECT tributary.add_table('incjob', 'src.items', 'public.items_inc', '{"sku": "upper(sku)"}', incremental_column => 'line');
SELECT tributary.drop_job('incjob');
SELECT tributary.drop_job('mapjob');
-- a table to create gets an expression column of the expression's type
SELECT tributary.create_job('exprjob', 'local', 'full') > 0 AS created;
SELECT tributary.add_table('exprjob', 'src.defident', 'public.defident_t4', '{"id": "id", "v2": "v || v", "n": "length(v) * 2"}') > 0 AS added;
\d public.defident_t4
-- expressions are single expressions over the source row, checked here
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "qty) FROM pg_authid; SELECT (1"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "1; SELECT 2"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "qty FROM src.items"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "(SELECT count(*) FROM pg_class)"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "random()"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "sum(qty)"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "nosuchcol + 1"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', '{"q": "items.qty + 1"}');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', NULL, 'true); COPY (SELECT 1) TO PROGRAM ''id''; SELECT 1 WHERE (true');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', NULL, 'qty');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', NULL, 'pg_catalog.pg_read_file(''/etc/passwd'') <> ''''');
SELECT tributary.add_table('exprjob', 'src.items', 'public.items_e1', NULL, 'qty > 2 AND sku ~ ''^a''') > 0 AS added;
SELECT source_table, filter FROM tributary.tables WHERE job_name = 'exprjob' ORDER BY 1;
SELECT tributary.drop_job('exprjob');
-- target names must fit in a PostgreSQL name
SELECT tributary.create_job('namejob', 'local', 'full') > 0 AS created;
SELECT tributary.add_table('namejob', 'src.items', 'public.' || repeat('x', 64));
SELECT tributary.add_table('namejob', 'src.items', repeat('s', 64) || '.items');
SELECT tributary.add_table('namejob', 'src.items', 'public.items_n', ('{"' || repeat('c', 64) || '": "sku"}')::jsonb);
-- and jobs never write system tables
SELECT tributary.add_table('namejob', 'src.items', 'pg_catalog.pg_authid');
SELECT tributary.add_table('namejob', 'src.items', 'tributary.job');
SELECT tributary.add_table('namejob', 'src.items', 'information_schema.sql_parts');
SELECT tributary.drop_job('namejob');

-- one target table belongs to one job
SELECT tributary.create_job('other', 'local') > 0 AS created;
SELECT tributary.add_table('other', 'src.orders', 'public.orders_copy');

SELECT job_name, source_table, target_table, state, rows_copied, chunks_done, chunks_total, rows_applied
  FROM tributary.tables ORDER BY 1, 2;

-- lifecycle: start_job re-checks the tables
SELECT tributary.start_job('other');
ALTER TABLE src.orders REPLICA IDENTITY DEFAULT;
SELECT tributary.start_job('orders_sync');
ALTER TABLE src.orders REPLICA IDENTITY FULL;
-- the launcher runs the jobs of tributary.database only
SELECT tributary.start_job('orders_sync');
SELECT tributary.stop_job('orders_sync');
SELECT tributary.restart_job('nosuch');
SELECT tributary.wait_for_sync('nosuch');
SELECT tributary.wait_for_sync('orders_sync', '1 s');

-- check_source: this instance is a fine PostgreSQL source (slot test included)
SELECT check_name, ok, detail FROM tributary.check_source('local', ARRAY['src.orders', 'src.nokey', 'src.defident', 'src.gone'])
 WHERE check_name NOT IN ('connection', 'replication_slots', 'wal_senders');
SELECT check_name, ok FROM tributary.check_source('local') WHERE check_name LIKE '%.%' ORDER BY 1;
SELECT check_name, ok, hint FROM tributary.check_source('local', ARRAY['src.nokey']) WHERE NOT ok;
SELECT tributary.check_source('nosuch');
-- an unreachable source is a failed check, not an error (port 1 refuses)
SELECT check_name, ok, detail ~ 'could not connect to source "my"' AS names_source,
       detail ~ 'pw' AS shows_password FROM tributary.check_source('my');

-- views
SELECT job_name, source_name, mode, state, phase, applied_position, rows_applied, last_error
  FROM tributary.jobs ORDER BY 1;
SELECT count(*) FROM tributary.checkpoints;
SELECT count(*) FROM tributary.runs;
SELECT count(*) FROM tributary.errors;
SELECT count(*) FROM tributary.dirty_rows;

-- every definition change is a job version
SELECT job_name, version, change, definition -> 'tables' -> 0 ->> 'source_table' AS first_table
  FROM tributary.job_versions WHERE job_name = 'orders_sync' ORDER BY version;
SELECT job_name, jsonb_array_length(definition -> 'tables') AS tables
  FROM tributary.job_versions WHERE job_name = 'full_only' ORDER BY version;

-- drop_source refuses while jobs use it
SELECT tributary.drop_source('local');
SELECT tributary.drop_source('my');
SELECT tributary.drop_source('my');

-- privileges: tributary_admin may define sources and jobs of its own
-- (docs/security.md); the rest is covered by TAP test 012_security
CREATE ROLE trib_admin IN ROLE tributary_admin;
GRANT CREATE ON SCHEMA public TO trib_admin;
SET ROLE trib_admin;
-- other roles' sources and jobs are not its own
SELECT tributary.create_job('admins_job', 'local', 'full');
SELECT tributary.add_table('orders_sync', 'src.items', 'public.items_x');
SELECT tributary.stop_job('orders_sync');
SELECT tributary.check_source('local');
-- a source of its own must carry a password, and no file of the server's account
SELECT tributary.create_source('mine', 'postgresql', 'dbname=contrib_regression');
SELECT tributary.create_source('mine', 'postgresql', 'dbname=contrib_regression password=x passfile=/tmp/x');
SELECT tributary.create_source('mine', 'postgresql', 'dbname=contrib_regression password=x sslpassword=y') > 0 AS created;
SELECT tributary.create_job('admins_job', 'mine', 'full') > 0 AS created;
-- this server lets pg_regress in without asking for the password: refused
SELECT tributary.add_table('admins_job', 'src.orders', 'public.admins_orders');
SELECT source_name, conninfo, password_required FROM tributary.sources ORDER BY 1;
SELECT job_name, owner FROM tributary.jobs ORDER BY 1;
-- the catalog is written through the API only
SELECT job_owner FROM tributary.job WHERE job_name = 'admins_job';
UPDATE tributary.job SET job_owner = 'postgres' WHERE job_name = 'admins_job';
SELECT tributary._api_drop_job('admins_job');
SELECT tributary.drop_job('admins_job');
SELECT tributary.drop_source('mine');
RESET ROLE;
-- the body of an API function cannot be called around its entry point
SELECT tributary._api_drop_job('orders_sync');
SET ROLE trib_nobody;
SELECT tributary.create_job('nobodys_job', 'local');
SELECT tributary.drop_job('orders_sync');
SELECT job_name FROM tributary.jobs ORDER BY 1;
SELECT count(*) FROM tributary.job_table;
RESET ROLE;

-- drop everything; the catalog is empty again
SELECT tributary.drop_job(job_name) FROM tributary.job ORDER BY job_id;
SELECT tributary.drop_source(source_name) FROM tributary.source ORDER BY source_id;
SELECT (SELECT count(*) FROM tributary.job) AS jobs, (SELECT count(*) FROM tributary.job_table) AS tables,
       (SELECT count(*) FROM tributary.job_version) AS versions, (SELECT count(*) FROM tributary.source) AS sources;

-- the catalog is dumped with the extension's data
SELECT count(*) FROM pg_extension, unnest(extconfig) c WHERE extname = 'pg_tributary';
DROP OWNED BY trib_admin;
DROP ROLE trib_admin;
DROP ROLE trib_nobody;
-- text a source prints (generation expressions, domain checks, type names)
-- goes into a target statement only as one plain expression
SELECT tributary._check_generation_expr('a test', '(qty * price)');
SELECT tributary._check_generation_expr('a test', 'NULL::character varying(20)');
SELECT tributary._check_generation_expr('a test', '1) STORED, evil int DEFAULT (0');
SELECT tributary._check_generation_expr('a test', 'NULL::int; DROP TABLE x');
SELECT tributary._check_generation_expr('a test', '1 FROM pg_class');

-- masking functions for column expressions
SELECT tributary.mask('13812345678', 3, 4) AS phone, tributary.mask('ab', 1, 1) AS short,
       tributary.mask('secret') AS whole, tributary.mask('Zoë Ünïcode', 1, 0, '#') AS unicode,
       tributary.mask(NULL, 1, 1) IS NULL AS null_stays, tributary.mask('abc', -5, 1) AS negative;
-- SHA-256 test vectors computed outside PostgreSQL (Python's hashlib)
SELECT tributary.mask_hash('alice') = '2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90' AS sha256,
       tributary.mask_hash('alice', 'pepper') = 'b1b68da447843a6519d8dd7a9c13c90aa1148805cbe55810f86712e6c294ff36' AS salted;
